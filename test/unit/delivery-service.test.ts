import { describe, expect, it } from 'vitest';
import { nodeTopic, type BusMessage } from '../../src/bus/bus.ts';
import { MemoryBroker, MemoryBus } from '../../src/bus/memory-bus.ts';
import type { DeliveryTarget, LocalDevices } from '../../src/delivery/delivery-target.ts';
import { DeliveryService } from '../../src/delivery/delivery-service.ts';
import { MemoryQueueStore } from '../../src/delivery/memory-queue-store.ts';
import { committedEntry, newEntry, remoteEntry, type QueueEntry } from '../../src/delivery/queue-entry.ts';
import { createLogger } from '../../src/util/logger.ts';

/**
 * The delivery service over the memory queue store and the in-process bus:
 * an entry's whole life (stored, offered, acked, written or not, read back,
 * deleted, purged) and the routing of acks between nodes, with no database
 * and no sockets, so each test takes milliseconds.
 */
const log = createLogger('silent');

/** A device connected to a node: it records what it is offered. */
class Device implements DeliveryTarget {
  readonly offered: QueueEntry[] = [];
  readonly isApproved = true;
  constructor(
    readonly userId: string,
    readonly deviceId: string,
  ) {}
  offer(e: QueueEntry): void {
    this.offered.push(e);
  }
  push(): boolean {
    return true;
  }
}

/** One node: its bus on `broker`, its store, and the devices connected to it. */
const node = (id: string, broker: MemoryBroker, devices: Device[] = [], opts: { delayMs?: number; queueMax?: number; recentAcks?: number } = {}) => {
  const local: LocalDevices = {
    find: (u, d) => devices.find((x) => x.userId === u && x.deviceId === d),
    devicesOf: (u) => {
      const mine = devices.filter((x) => x.userId === u);
      return mine.length > 0 ? mine : undefined;
    },
  };
  const bus = new MemoryBus(id, broker);
  const store = new MemoryQueueStore();
  const delivery = new DeliveryService({
    store,
    bus,
    local,
    log,
    now: Date.now,
    writer: { batchMax: 100, queueMax: opts.queueMax ?? 1000, delayMs: opts.delayMs ?? 50 },
    recentAcks: opts.recentAcks,
  });
  bus.subscribe(nodeTopic(id));
  for (const d of devices) bus.subscribe(d.userId);
  bus.onMessage((topic, msg) => {
    if (msg.k === 'ack') delivery.receiveAck(msg.user, msg.device, msg.key);
    else if (msg.k === 'entries' || msg.k === 'absent' || msg.k === 'push') delivery.receive(topic, msg);
  });
  return { delivery, store, bus };
};

let n = 0;
const fields = (id: string, to = { user: 'bob', device: 'b1' }) => ({
  recipientUser: to.user,
  recipientDevice: to.device,
  dedupKey: `deliver|alice|a1|${id}`,
  messageId: id,
  kind: 'deliver' as const,
  senderUser: 'alice',
  senderDevice: 'a1',
  frame: `{"id":"${id}"}`,
  createdAt: new Date(),
});
/** A new entry for bob's b1 and a promise of how it settles. */
const sent = (to?: { user: string; device: string }) => {
  const id = `m${n++}`;
  const e = newEntry(fields(id, to));
  const settled = new Promise<boolean>((resolve) => (e.onSettled = resolve));
  return { e, settled };
};
const keyOf = (id: string) => ({ recipientUser: 'bob', recipientDevice: 'b1', dedupKey: `deliver|alice|a1|${id}` });
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('delivery service: one node', () => {
  it('never writes an entry its device acks within the write delay, and answers its sender', async () => {
    const bob = new Device('bob', 'b1');
    const { delivery, store } = node('a', new MemoryBroker(), [bob]);
    const { e, settled } = sent();
    expect(delivery.store([e])).toBe(true);
    expect(bob.offered).toEqual([e]);
    delivery.ack(e);
    expect(await settled).toBe(true);
    await delivery.idle();
    expect(store.commits).toBe(0);
    expect(await store.countFor('bob', 'b1')).toBe(0);
    expect(e.state).toBe('acked');
  });

  it('writes at once an entry for a device connected nowhere, reads it back, and deletes it on its ack', async () => {
    const { delivery, store } = node('a', new MemoryBroker(), [], { delayMs: 10_000 });
    const { e, settled } = sent();
    const started = Date.now();
    delivery.store([e]);
    expect(delivery.pendingFor('bob', 'b1')).toEqual([e]);
    expect(await settled).toBe(true);
    // Not held for the delay: nobody could have acked it.
    expect(Date.now() - started).toBeLessThan(1000);
    expect(delivery.pendingFor('bob', 'b1')).toEqual([]);
    const page = await delivery.readBacklog('bob', 'b1', '0', 10);
    expect(page.entries.map((x) => x.messageId)).toEqual([e.messageId]);
    expect(page.full).toBe(false);
    const row = page.entries[0]!;
    delivery.ack(row);
    // Its delete is on its way: a drain meanwhile does not send it again, and this node remembers the ack.
    expect((await delivery.readBacklog('bob', 'b1', '0', 10)).entries).toEqual([]);
    expect(delivery.ackedHere(row)).toBe(true);
    // The delete waits for the next batch (deletes ride with inserts, after the write delay).
    expect(delivery.writerStats().depth).toBe(1);
    expect(await store.countFor('bob', 'b1')).toBe(1);
  });

  it('pages the backlog from a cursor', async () => {
    const { delivery } = node('a', new MemoryBroker(), [], { delayMs: 0 });
    const list = [sent(), sent(), sent()];
    delivery.store(list.map((x) => x.e));
    await Promise.all(list.map((x) => x.settled));
    const first = await delivery.readBacklog('bob', 'b1', '0', 2);
    expect(first.full).toBe(true);
    const rest = await delivery.readBacklog('bob', 'b1', first.lastSeq, 2);
    expect([...first.entries, ...rest.entries].map((x) => x.messageId)).toEqual(list.map((x) => x.e.messageId));
    expect(rest).toMatchObject({ full: false });
    expect((await delivery.readBacklog('bob', 'b1', rest.lastSeq, 2)).lastSeq).toBe('');
    // Acked, they leave the queue with the next batch.
    for (const row of [...first.entries, ...rest.entries]) delivery.ack(row);
    await delivery.idle();
    expect((await delivery.readBacklog('bob', 'b1', '0', 10)).entries).toEqual([]);
  });

  it('refuses a send whole when the write queue is full, offering nothing', async () => {
    const bob = new Device('bob', 'b1');
    const { delivery } = node('a', new MemoryBroker(), [bob], { queueMax: 2 });
    expect(delivery.store([sent().e, sent().e, sent().e])).toBe(false);
    expect(bob.offered).toEqual([]);
    expect(delivery.writerStats().depth).toBe(0);
  });

  it('purges a device: what waits to be written is dropped (its sender answered), and what was stored', async () => {
    const { delivery, store } = node('a', new MemoryBroker(), [new Device('bob', 'b1')], { delayMs: 10_000 });
    const stored = sent();
    await store.commit([stored.e], []);
    const waiting = sent();
    delivery.store([waiting.e]);
    expect(await delivery.purge('bob', 'b1')).toBe(1);
    expect(await waiting.settled).toBe(true);
    await delivery.idle();
    expect(await store.countFor('bob', 'b1')).toBe(0);
    expect(store.commits).toBe(1);
  });
});

describe('delivery service: two nodes', () => {
  it("cancels the write on the sender's node when the device on the other node acks in time", async () => {
    const broker = new MemoryBroker();
    const bob = new Device('bob', 'b1');
    // A write delay no loaded machine outlasts: the ack must be the thing that cancels the write.
    const a = node('a', broker, [], { delayMs: 10_000 });
    const b = node('b', broker, [bob]);
    const { e, settled } = sent();
    a.delivery.store([e]);
    await tick();
    expect(bob.offered.map((x) => [x.messageId, x.origin, x.state])).toEqual([[e.messageId, 'a', 'remote']]);
    b.delivery.ack(bob.offered[0]!);
    expect(await settled).toBe(true);
    await a.delivery.idle();
    expect(a.store.commits).toBe(0);
    expect(b.delivery.ackedHere(e)).toBe(true);
  });

  it('writes at once an entry whose first copy reached a node without its device', async () => {
    const broker = new MemoryBroker();
    const a = node('a', broker, [], { delayMs: 10_000 });
    // Node b holds another device of bob's, not b1: it answers `absent`.
    node('b', broker, [new Device('bob', 'b2')]);
    const { e, settled } = sent();
    const started = Date.now();
    a.delivery.store([e]);
    expect(await settled).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await a.store.countFor('bob', 'b1')).toBe(1);
  });

  it('sends a committed entry to the other nodes again, and a node that acked its first copy does not deliver it twice', async () => {
    const broker = new MemoryBroker();
    const bob = new Device('bob', 'b1');
    const a = node('a', broker, [], { delayMs: 0 });
    const b = node('b', broker, [bob]);
    const { e, settled } = sent();
    a.delivery.store([e]);
    await settled;
    await tick();
    // First copy, then the one sent at the commit; the device holds it once (in-flight keys, in the session).
    expect(bob.offered.map((x) => x.storedCopy)).toEqual([false, true]);
    b.delivery.ack(bob.offered[0]!);
    await tick();
    await a.delivery.idle();
    expect(await a.store.countFor('bob', 'b1')).toBe(0);
    // A third copy (a retry's) after the ack is not offered.
    b.delivery.receive('bob', { k: 'entries', node: 'a', entries: [{ ...fields(e.messageId), createdAt: e.createdAt.getTime() }], again: true });
    expect(bob.offered).toHaveLength(2);
  });
});

describe('delivery service: acks it remembers and routes', () => {
  const setup = (recentAcks?: number) => {
    const broker = new MemoryBroker();
    const { delivery, store } = node('b', broker, [], { recentAcks });
    const atOrigin: BusMessage[] = [];
    const origin = new MemoryBus('a', broker);
    origin.subscribe(nodeTopic('a'));
    origin.onMessage((_topic, msg) => atOrigin.push(msg));
    return { delivery, store, atOrigin };
  };

  it("remembers another node's entry acked here, and sends the ack, with the sender's receipt, to that node", async () => {
    const { delivery, atOrigin } = setup();
    const copy = remoteEntry(fields('m1'), 'a');
    delivery.ack(copy);
    expect(copy.state).toBe('acked');
    expect(delivery.ackedHere(keyOf('m1'))).toBe(true);
    expect(delivery.ackedHere(keyOf('m2'))).toBe(false);
    expect(delivery.ackedHere({ ...keyOf('m1'), recipientDevice: 'b2' })).toBe(false);
    await tick();
    expect(atOrigin).toEqual([{ k: 'ack', user: 'bob', device: 'b1', key: 'deliver|alice|a1|m1', delivered: { sender: 'alice', senderDevice: 'a1', messageId: 'm1' } }]);
    // A second ack of the same copy sends nothing more.
    delivery.ack(copy);
    await tick();
    expect(atOrigin).toHaveLength(1);
  });

  it('sends no receipt with the ack of an entry that earns none: a status_update, or a message between devices of one user', async () => {
    const { delivery, atOrigin } = setup();
    delivery.ack(remoteEntry({ ...fields('s1'), kind: 'status_update', dedupKey: 'status_update|delivered|carol|c1|b1|s1' }, 'a'));
    delivery.ack(remoteEntry({ ...fields('m2'), senderUser: 'bob', senderDevice: 'b2', dedupKey: 'deliver|bob|b2|m2' }, 'a'));
    await tick();
    expect(atOrigin).toHaveLength(2);
    expect(atOrigin.every((m) => m.k === 'ack' && m.delivered === undefined)).toBe(true);
  });

  it('remembers a row of its own read from the queue (another copy may come), not an entry acked before its commit', async () => {
    const { delivery, store, atOrigin } = setup();
    delivery.ack(committedEntry(fields('row')));
    const queued = sent();
    delivery.store([queued.e]);
    delivery.ack(queued.e);
    expect(delivery.ackedHere(keyOf('row'))).toBe(true);
    expect(delivery.ackedHere(queued.e)).toBe(false);
    await delivery.idle();
    // Its own entries' acks stay here: the row's delete went to this node's store, nothing to the bus.
    expect(store.commits).toBe(1);
    expect(atOrigin).toEqual([]);
  });

  it('remembers the latest acks only', () => {
    const { delivery } = setup(100);
    for (let i = 0; i < 250; i++) delivery.ack(remoteEntry(fields(`m${i}`), 'a'));
    expect(delivery.ackedHere(keyOf('m149'))).toBe(false);
    for (let i = 150; i < 250; i++) expect(delivery.ackedHere(keyOf(`m${i}`))).toBe(true);
  });

  it('remembers as many acks when every id is a UUID (keys of about 200 characters)', () => {
    const { delivery } = setup(100);
    const uuid = (i: number) => `${String(i).padStart(8, '0')}-7425-40de-944b-e07fc1f90ae7`;
    const long = (i: number) => ({ ...fields(uuid(i)), recipientUser: uuid(1), recipientDevice: uuid(2), dedupKey: `deliver|${uuid(3)}|${uuid(4)}|${uuid(i)}` });
    for (let i = 0; i < 100; i++) delivery.ack(remoteEntry(long(i), 'a'));
    for (let i = 0; i < 100; i++) expect(delivery.ackedHere(long(i))).toBe(true);
  });
});
