import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/memory-bus.ts';
import { DeliveryService } from '../../src/delivery/delivery-service.ts';
import { newEntry, remoteEntry } from '../../src/delivery/queue-entry.ts';
import type { QueueStore } from '../../src/delivery/queue-store.ts';
import type { Connection } from '../../src/session/connection.ts';
import { BacklogResync } from '../../src/session/backlog-resync.ts';
import { Session, type SessionDeps } from '../../src/session/session.ts';
import { createLogger } from '../../src/util/logger.ts';
import { backends } from '../helpers/databases.ts';
import { useAnyQueueStore } from '../helpers/in-process-db.ts';

/**
 * After a bus outage, a message sent after it must not reach its device
 * before one stored during it. Found by `npm run chaos` (a Redis kill): the
 * entry stored while Redis was down waited for the resync's re-read, and
 * the next message, live over the bus again, went out first. A session with
 * the real writer and queue store (a socket that records what it is sent)
 * shows the order.
 */
const log = createLogger('silent');
const fields = (id: string) => ({
  recipientUser: 'bob',
  recipientDevice: 'b1',
  dedupKey: id,
  messageId: id,
  kind: 'deliver' as const,
  senderUser: 'alice',
  senderDevice: 'a1',
  frame: JSON.stringify({ type: 'deliver', message_id: id }),
  createdAt: new Date(),
});

class RecordingSocket implements Connection {
  readonly sent: string[] = [];
  send(text: string) {
    this.sent.push(text);
    return 'sent' as const;
  }
  close(): void {}
  bufferedAmount(): number {
    return 0;
  }
}

describe.each(['memory', ...backends] as const)('order across a bus outage on %s', (kind) => {
  const t = useAnyQueueStore(kind);

  /** A session for the device over the real delivery service (writer and store), sending to `socket`; `over` replaces some of its dependencies, `store` the service's store. */
  const openSession = (user: string, device: string, socket: Connection, over: Partial<SessionDeps> = {}, store: QueueStore = t.store) => {
    const delivery = new DeliveryService({
      store,
      bus: new MemoryBus('n1'),
      local: { find: () => undefined, devicesOf: () => undefined },
      log,
      now: Date.now,
      writer: { batchMax: 100, queueMax: 1000 },
    });
    const deps: SessionDeps = {
      delivery,
      log,
      now: () => Date.now(),
      inflightMax: 100,
      inflightMaxBytes: 1 << 20,
      drainPageSize: 50,
      bufferedHighWater: 1 << 20,
      slowConsumerMs: 10_000,
      listening: () => true,
      ...over,
    };
    return new Session(user, device, Date.now() + 3_600_000, 'approved', { ip: '127.0.0.1', userAgent: 't' }, Date.now(), socket, deps);
  };

  it('holds what arrives after a loss until the re-read has sent what was stored during it', async () => {
    const socket = new RecordingSocket();
    const s = openSession('bob', 'b1', socket);
    const resync = new BacklogResync({ sessions: () => [s], store: t.store, log, chunk: 500, concurrency: 4 });
    await s.drain();
    const ids = () =>
      socket.sent
        .map((f) => JSON.parse(f) as { type: string; message_id?: string })
        .filter((f) => f.type === 'deliver')
        .map((f) => f.message_id);

    // Live: an entry from another node goes out at once.
    s.offer(remoteEntry(fields('before'), 'n2'));
    expect(ids()).toEqual(['before']);

    // During the outage, n2 stored `lost` (no node heard of it). The bus comes back: the loss is learnt,
    // and at once the next message from n2 arrives live.
    await t.store.commit([newEntry(fields('lost'))], []);
    resync.hold();
    s.offer(remoteEntry(fields('after'), 'n2'));
    expect(ids()).toEqual(['before']);
    await resync.idle();
    expect(ids()).toEqual(['before', 'lost', 'after']);

    // And live again afterwards.
    s.offer(remoteEntry(fields('later'), 'n2'));
    expect(ids()).toEqual(['before', 'lost', 'after', 'later']);
  });

  it('stays draining until the bus carries the user here, then reads the queue again before going live', async () => {
    const dora = (id: string) => ({ ...fields(id), recipientUser: 'dora', recipientDevice: 'd1' });
    const socket = new RecordingSocket();
    let heard!: () => void;
    const subscribed = new Promise<void>((resolve) => (heard = resolve));
    let listening: true | Promise<void> = subscribed;
    const s = openSession('dora', 'd1', socket, { listening: () => listening });
    await t.store.commit([newEntry(dora('old'))], []);
    const draining = s.drain();
    const types = () => socket.sent.map((f) => JSON.parse(f) as { type: string; message_id?: string }).map((f) => f.message_id ?? f.type);
    for (let i = 0; !types().includes('old') && i < 100; i++) await new Promise((r) => setTimeout(r, 10));
    // The backlog goes out at once. Then another node commits `missed` (its copy passed this node by,
    // unsubscribed), and a later message arrives: it waits.
    await t.store.commit([newEntry(dora('missed'))], []);
    s.offer(remoteEntry(dora('after'), 'n2'));
    await new Promise((r) => setTimeout(r, 50));
    expect(types()).toEqual(['old']);
    listening = true;
    heard();
    await draining;
    expect(types()).toEqual(['old', 'missed', 'after', 'queue_empty']);
  });

  it('a first copy from another node that found no room holds the later first copies back until it comes again, stored', async () => {
    const erin = (id: string) => ({ ...fields(id), recipientUser: 'erin', recipientDevice: 'e1' });
    const socket = new RecordingSocket();
    const s = openSession('erin', 'e1', socket, { inflightMax: 2 });
    await s.drain();
    const ids = () =>
      socket.sent
        .map((f) => JSON.parse(f) as { type: string; message_id?: string })
        .filter((f) => f.type === 'deliver')
        .map((f) => f.message_id);
    const flush = () => new Promise((r) => setTimeout(r, 30));
    // A burst from n2, not committed there yet: two fill the window, two are held, the rest find no room.
    for (let i = 1; i <= 8; i++) s.offer(remoteEntry(erin(`m${i}`), 'n2'));
    expect(ids()).toEqual(['m1', 'm2']);
    s.ack(['m1', 'm2']);
    await flush();
    s.ack(ids().slice(2) as string[]);
    await flush();
    // Nothing of the rest is in the queue yet, and the next first copy must not pass them.
    s.offer(remoteEntry(erin('m9'), 'n2'));
    await flush();
    expect(ids()).not.toContain('m9');
    // n2 commits them in order and publishes each again (m1 and m2 were acked in time: never written).
    for (let i = 3; i <= 9; i++) {
      s.offer(remoteEntry(erin(`m${i}`), 'n2', true));
      s.ack([`m${i}`]);
    }
    await flush();
    expect(ids()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    // All came: first copies go straight out again.
    s.offer(remoteEntry(erin('m10'), 'n2'));
    expect(ids().at(-1)).toBe('m10');
  });

  it('lets a device with nothing stored go live again after the probe, without reading its queue', async () => {
    const socket = new RecordingSocket();
    let reads = 0;
    const store = Object.assign(Object.create(t.store) as typeof t.store, {
      readBacklog: (...a: Parameters<typeof t.store.readBacklog>) => {
        reads++;
        return t.store.readBacklog(...a);
      },
    });
    const s = openSession('carol', 'c1', socket, {}, store);
    await s.drain();
    const readsBefore = reads;
    const resync = new BacklogResync({ sessions: () => [s], store, log, chunk: 500, concurrency: 4 });
    resync.hold();
    s.offer(remoteEntry({ ...fields('x'), recipientUser: 'carol', recipientDevice: 'c1' }, 'n2'));
    await resync.idle();
    await new Promise((r) => setImmediate(r));
    expect(socket.sent.filter((f) => f.includes('"deliver"'))).toHaveLength(1);
    expect(reads).toBe(readsBefore);
  });
});
