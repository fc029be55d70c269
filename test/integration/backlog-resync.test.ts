import { describe, expect, it } from 'vitest';
import { newEntry } from '../../src/delivery/queue-entry.ts';
import { PostgresQueueStore } from '../../src/delivery/postgres-queue-store.ts';
import { BacklogResync, type ResyncTarget } from '../../src/session/backlog-resync.ts';
import { createLogger } from '../../src/util/logger.ts';
import { backends } from '../helpers/databases.ts';
import { openInProcess, useQueueStore } from '../helpers/in-process-db.ts';

const log = createLogger('silent');

/** A connected device as the resync sees it; its drain takes `drainMs` and records how many ran at once. */
class Device implements ResyncTarget {
  isApproved = true;
  closed = false;
  backlogCursor = '0';
  drains = 0;
  resumed = 0;
  /** Holding live delivery (holdForResync) until a drain or resumeLive lets it go. */
  holding = false;
  static running = 0;
  static mostAtOnce = 0;
  constructor(
    readonly userId: string,
    readonly deviceId: string,
    private readonly drainMs = 5,
  ) {}
  holdForResync(): void {
    this.holding = true;
  }
  resumeLive(): void {
    this.resumed++;
    this.holding = false;
  }
  async drain(): Promise<void> {
    this.holding = false;
    this.drains++;
    Device.mostAtOnce = Math.max(Device.mostAtOnce, ++Device.running);
    await new Promise((r) => setTimeout(r, this.drainMs));
    Device.running--;
  }
}

let n = 0;
const stored = (user: string, device: string) => {
  const id = `r${n++}`;
  return newEntry({ recipientUser: user, recipientDevice: device, dedupKey: id, messageId: id, kind: 'deliver', senderUser: 's', senderDevice: 'sd', frame: `{"id":"${id}"}`, createdAt: new Date() });
};

describe.each(backends)('backlog resync on %s', (kind) => {
  const t = useQueueStore(kind);

  it('the probe names the devices with entries after their cursor, in one query', async () => {
    await t.store.commit([stored('p-u1', 'd1'), stored('p-u1', 'd1'), stored('p-u2', 'd1'), stored('p-u3', 'd2')], []);
    const page = await t.store.readBacklog('p-u1', 'd1', '0', 10);
    const last = page.at(-1)!.seq;
    const has = await t.store.withBacklog([
      { user: 'p-u1', device: 'd1', afterSeq: '0' },
      { user: 'p-u1', device: 'd1', afterSeq: last }, // read up to its last entry already
      { user: 'p-u1', device: 'd2', afterSeq: '0' }, // another device of the user
      { user: 'p-u2', device: 'd1', afterSeq: '0' },
      { user: 'p-nobody', device: 'd1', afterSeq: '0' },
      { user: 'p-u3', device: 'd2', afterSeq: page[0]!.seq }, // its entry came after that position
    ]);
    expect([...has].sort()).toEqual([0, 3, 5]);
    expect(await t.store.withBacklog([])).toEqual(new Set());
  });

  it('a pass re-reads only the devices that have a backlog, chunk by chunk, a bounded number at a time', async () => {
    const devices = Array.from({ length: 1200 }, (_, i) => new Device(`c-u${i}`, 'd1'));
    const backlog = [3, 499, 500, 777, 1100, 1101, 1102, 1103, 1104, 1105, 1106, 1107, 1108, 1109, 1110, 1111, 1112, 1113, 1114, 1115];
    await t.store.commit(
      backlog.map((i) => stored(`c-u${i}`, 'd1')),
      [],
    );
    // Not approved yet, or closed: never re-read, even with a backlog.
    devices[3]!.isApproved = false;
    devices[777]!.closed = true;
    Device.mostAtOnce = 0;
    const resync = new BacklogResync({ sessions: () => devices, store: t.store, log, chunk: 500, concurrency: 4 });
    resync.request();
    await resync.idle();
    expect(resync.lastPass).toEqual({ sessions: 1198, probes: 3, drained: 18 });
    expect(devices.filter((d) => d.drains > 0).map((d) => Number(d.userId.slice(3)))).toEqual(backlog.filter((i) => i !== 3 && i !== 777));
    expect(Device.mostAtOnce).toBe(4);
  });

  it('a hold stops live delivery on every open approved device until the pass re-reads its queue or lets it go', async () => {
    const devices = Array.from({ length: 700 }, (_, i) => new Device(`h-u${i}`, 'd1'));
    await t.store.commit([stored('h-u5', 'd1'), stored('h-u650', 'd1')], []);
    devices[9]!.isApproved = false;
    const resync = new BacklogResync({ sessions: () => devices, store: t.store, log, chunk: 500, concurrency: 4 });
    resync.hold();
    // At once, before any query: whatever the bus hands on next is held.
    expect(devices.filter((d) => d.holding).length).toBe(699);
    await resync.idle();
    expect(devices.filter((d) => d.holding)).toEqual([]);
    expect(devices.filter((d) => d.drains > 0).map((d) => d.userId)).toEqual(['h-u5', 'h-u650']);
    expect(devices.filter((d) => d.resumed > 0).length).toBe(697);
  });

  it('requests during a pass make exactly one more pass', async () => {
    const devices = Array.from({ length: 10 }, (_, i) => new Device(`a-u${i}`, 'd1', 30));
    await t.store.commit(
      devices.map((d) => stored(d.userId, 'd1')),
      [],
    );
    const resync = new BacklogResync({ sessions: () => devices, store: t.store, log, chunk: 500, concurrency: 16 });
    resync.request();
    resync.request();
    resync.request();
    await resync.idle();
    expect(devices.map((d) => d.drains)).toEqual(devices.map(() => 2));
    resync.request();
    await resync.idle();
    expect(devices.map((d) => d.drains)).toEqual(devices.map(() => 3));
  });

  it('when the probe fails, every device of the chunk is re-read, still a bounded number at a time', async () => {
    const broken = await openInProcess(kind);
    await broken.close();
    const devices = Array.from({ length: 30 }, (_, i) => new Device(`f-u${i}`, 'd1'));
    Device.mostAtOnce = 0;
    const resync = new BacklogResync({ sessions: () => devices, store: new PostgresQueueStore(broken.db, 1000), log, chunk: 20, concurrency: 5 });
    resync.request();
    await resync.idle();
    expect(resync.lastPass).toEqual({ sessions: 30, probes: 2, drained: 30 });
    expect(devices.every((d) => d.drains === 1)).toBe(true);
    expect(Device.mostAtOnce).toBe(5);
  });
});
