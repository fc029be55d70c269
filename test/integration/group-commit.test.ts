import { describe, expect, it } from 'vitest';
import { GroupCommitWriter, OverloadedError } from '../../src/delivery/group-commit.ts';
import { newEntry, type QueueEntry } from '../../src/delivery/queue-entry.ts';
import { PostgresQueueStore } from '../../src/delivery/postgres-queue-store.ts';
import { startSweeper } from '../../src/delivery/sweeper.ts';
import { createLogger } from '../../src/util/logger.ts';
import { backends } from '../helpers/databases.ts';
import { testEntry } from '../helpers/entries.ts';
import { useQueueStore } from '../helpers/in-process-db.ts';

const log = createLogger('silent');
const settled = (e: QueueEntry) => new Promise<boolean>((resolve) => (e.onSettled = resolve));
/** What the router says of an entry whose device is connected nowhere. */
const nobody = () => false;
/** Enqueues an entry no device can ack (written without the delay); resolves when it settles. */
const enqueueUnackable = (w: GroupCommitWriter, e: QueueEntry) => {
  const done = settled(e);
  w.enqueue([e], nobody);
  return done;
};

describe.each(backends)('group commit on %s', (kind) => {
  const t = useQueueStore(kind);

  it('commits everything enqueued in one turn as one batch, in order', async () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 1000, queueMax: 10_000 }, log);
    const entries = Array.from({ length: 300 }, () => testEntry('u1', 'd1'));
    const done = entries.map(settled);
    w.enqueue(entries);
    expect(await Promise.all(done)).toEqual(entries.map(() => true));
    expect(w.stats().batches).toBe(1);
    const page = await t.store.readBacklog('u1', 'd1', '0', 1000);
    expect(page.map((r) => r.entry.messageId)).toEqual(entries.map((e) => e.messageId));
  });

  it('stores any frame text as it was: quotes, backslashes, escapes, non-ASCII; a lone surrogate becomes U+FFFD', async () => {
    const frames = ['{"a":"q\\"uote \\\\ back"}', 'é 😀 \\u0000 {}[],', '\\ud800 as text', 'tab\tline\nend', 'lone \ud800 high'];
    const entries = frames.map((frame, i) =>
      newEntry({ recipientUser: 'u0', recipientDevice: 'd1', dedupKey: `f${i}`, messageId: `f${i}`, kind: 'deliver', senderUser: 's', senderDevice: 'sd', frame, createdAt: new Date() }),
    );
    await t.store.commit(entries, []);
    const stored = (await t.store.readBacklog('u0', 'd1', '0', 100)).map((r) => r.entry.frame);
    expect(stored).toEqual([...frames.slice(0, 4), 'lone \ufffd high']);
    await t.store.commit(
      [],
      entries.map((e) => ({ recipientUser: 'u0', recipientDevice: 'd1', dedupKey: e.dedupKey })),
    );
    expect(await t.store.countFor('u0', 'd1')).toBe(0);
  });

  it('splits at batchMax and keeps order across batches', async () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 50, queueMax: 10_000 }, log);
    const entries = Array.from({ length: 120 }, () => testEntry('u2', 'd1'));
    const done = entries.map(settled);
    w.enqueue(entries);
    await Promise.all(done);
    expect(w.stats().batches).toBe(3);
    expect((await t.store.readBacklog('u2', 'd1', '0', 1000)).map((r) => r.entry.messageId)).toEqual(entries.map((e) => e.messageId));
  });

  it('never writes an entry acked before its batch, and deletes one acked after', async () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 1000, queueMax: 10_000 }, log);
    const early = testEntry('u3', 'd1');
    const late = testEntry('u3', 'd1');
    const earlyDone = settled(early);
    const lateDone = settled(late);
    w.enqueue([early, late]);
    w.ack(early);
    expect(await earlyDone).toBe(true);
    expect(await lateDone).toBe(true);
    expect(await t.store.countFor('u3', 'd1')).toBe(1);
    w.ack(late);
    await w.idle();
    expect(await t.store.countFor('u3', 'd1')).toBe(0);
  });

  it('reports a committed row as deleting from its ack until the delete commits, even with a commit delay', async () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 1000, queueMax: 10_000, delayMs: 20 }, log);
    const e = testEntry('u9', 'd1');
    w.enqueue([e]);
    await w.idle();
    expect(w.isDeleting('u9', 'd1', e.dedupKey)).toBe(false);
    w.ack(e);
    expect(w.isDeleting('u9', 'd1', e.dedupKey)).toBe(true);
    expect(await t.store.countFor('u9', 'd1')).toBe(1);
    await w.idle();
    expect(w.isDeleting('u9', 'd1', e.dedupKey)).toBe(false);
    expect(await t.store.countFor('u9', 'd1')).toBe(0);
  });

  it('gives every insert its full delay, even one queued while a slow batch runs', async () => {
    // Batches take 300 ms. While the first runs, B0 arrives early (ripe when it ends) and B near its
    // end; B is acked 100 ms after it arrived, inside its 200 ms delay, so it must never be written.
    const slow = new PostgresQueueStore(t.db, 5000);
    slow.commit = async (inserts, deletes) => {
      await new Promise((r) => setTimeout(r, 300));
      return t.store.commit(inserts, deletes);
    };
    const w = new GroupCommitWriter(slow, { batchMax: 1000, queueMax: 10_000, delayMs: 200 }, log);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const a = testEntry('u10', 'd1');
    w.enqueue([a]);
    await sleep(250);
    expect(a.state).toBe('flushing');
    w.enqueue([testEntry('u10', 'd1')]);
    await sleep(200);
    const b = testEntry('u10', 'd2');
    w.enqueue([b]);
    await sleep(100);
    expect(b.state).toBe('queued');
    w.ack(b);
    await w.idle();
    // A and B0 written; B never (taken with B0, it would have been written and then deleted).
    expect(w.stats().committedOps).toBe(2);
    expect(await t.store.countFor('u10', 'd2')).toBe(0);
  });

  it("writes at once an entry no device can ack, and wakes a writer waiting out a held entry's delay for it", async () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 1000, queueMax: 10_000, delayMs: 60_000 }, log);
    // Held for a minute: the writer's next start is timed, and writeNow moves it up.
    const held = testEntry('u13', 'd1');
    w.enqueue([held]);
    const first = testEntry('u13', 'd2');
    expect(await enqueueUnackable(w, first)).toBe(true);
    // Now the flush loop is running and waiting for `held` to ripen; a second such entry wakes it.
    const second = testEntry('u13', 'd3');
    expect(await enqueueUnackable(w, second)).toBe(true);
    expect(held.state).toBe('queued');
    expect(await t.store.countFor('u13', 'd1')).toBe(0);
    w.ack(held);
    await w.idle();
    expect(w.stats().committedOps).toBe(2);
  });

  it("keeps a device's entries in enqueue order: one that could be written at once waits behind its device's held entry", async () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 1000, queueMax: 10_000, delayMs: 1000 }, log);
    const held = testEntry('u14', 'd1');
    w.enqueue([held]);
    const behind = testEntry('u14', 'd1');
    const other = testEntry('u14', 'd2');
    const behindDone = settled(behind);
    w.enqueue([behind, other], nobody);
    expect(await settled(other)).toBe(true);
    expect(behind.state).toBe('queued');
    expect(await behindDone).toBe(true);
    expect(held.state).toBe('committed');
    expect((await t.store.readBacklog('u14', 'd1', '0', 10)).map((r) => r.entry.messageId)).toEqual([held.messageId, behind.messageId]);
    // Once the held entry is written, the device's next entry no longer waits.
    expect(await enqueueUnackable(w, testEntry('u14', 'd1'))).toBe(true);
  });

  it("writes released entries without waiting out their delay, in their device's order", async () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 1000, queueMax: 10_000, delayMs: 60_000 }, log);
    const list = [testEntry('u15', 'd1'), testEntry('u15', 'd1'), testEntry('u15', 'd2')];
    const done = list.map(settled);
    w.enqueue(list);
    // A release names entries by key, as a bus message does: of two devices, one named twice, and a stale one (acked) that is skipped.
    const acked = testEntry('u15', 'd3');
    w.enqueue([acked]);
    w.ack(acked);
    const keyOf = (e: QueueEntry) => ({ recipientUser: e.recipientUser, recipientDevice: e.recipientDevice, dedupKey: e.dedupKey });
    w.release([...list, list[0]!, acked].map(keyOf));
    expect(await Promise.all(done)).toEqual([true, true, true]);
    expect((await t.store.readBacklog('u15', 'd1', '0', 10)).map((r) => r.entry.messageId)).toEqual([list[0]!.messageId, list[1]!.messageId]);
    expect(await t.store.countFor('u15', 'd3')).toBe(0);
  });

  it('keeps released entries waiting while another of their device is held, and lets them go with it', async () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 1000, queueMax: 10_000, delayMs: 60_000 }, log);
    // Two sends to one device, each in its own bus message: the first answer comes while the second is unanswered.
    const [first, second] = [testEntry('u16', 'd1'), testEntry('u16', 'd1')];
    const done = [first, second].map(settled);
    w.enqueue([first]);
    w.enqueue([second]);
    w.release([first]);
    await new Promise((r) => setTimeout(r, 200));
    expect(first.state).toBe('queued');
    w.release([second]);
    expect(await Promise.all(done)).toEqual([true, true]);
    expect((await t.store.readBacklog('u16', 'd1', '0', 10)).map((r) => r.entry.messageId)).toEqual([first.messageId, second.messageId]);
    // When the entry they waited for is acked instead, they go at once.
    const [a, b] = [testEntry('u16', 'd2'), testEntry('u16', 'd2')];
    const aDone = settled(a);
    w.enqueue([a, b]);
    w.release([a]);
    await new Promise((r) => setTimeout(r, 100));
    expect(a.state).toBe('queued');
    w.ack(b);
    expect(await aDone).toBe(true);
    expect((await t.store.readBacklog('u16', 'd2', '0', 10)).map((r) => r.entry.messageId)).toEqual([a.messageId]);
  });

  it('answers the sender as soon as the recipient acks, even while the entry is being written, and even if that batch fails', async () => {
    // Each batch waits for the test to let it through, or fail it.
    const gates: ((ok: boolean) => void)[] = [];
    const gated = new PostgresQueueStore(t.db, 5000);
    gated.commit = (inserts, deletes) => new Promise<boolean>((r) => gates.push(r)).then((ok) => (ok ? t.store.commit(inserts, deletes) : Promise.reject(new Error('batch failed'))));
    const w = new GroupCommitWriter(gated, { batchMax: 1000, queueMax: 10_000 }, log);
    const e = testEntry('u11', 'd1');
    const done = settled(e);
    w.enqueue([e]);
    while (gates.length < 1) await new Promise((r) => setTimeout(r, 5));
    w.ack(e);
    expect(await done).toBe(true);
    gates[0]!(false);
    // The next batch carries the delete that follows the ack.
    while (gates.length < 2) await new Promise((r) => setTimeout(r, 5));
    gates[1]!(true);
    await w.idle();
    expect(e.state).toBe('acked');
  });

  it('gives deletes half of each batch while inserts keep coming', async () => {
    const batches: [number, number][] = [];
    const counting = new PostgresQueueStore(t.db, 5000);
    counting.commit = (inserts, deletes) => {
      batches.push([inserts.length, deletes.length]);
      return t.store.commit(inserts, deletes);
    };
    const w = new GroupCommitWriter(counting, { batchMax: 10, queueMax: 10_000 }, log);
    const first = Array.from({ length: 10 }, () => testEntry('u12', 'd1'));
    w.enqueue(first);
    await w.idle();
    for (const e of first) w.ack(e);
    w.enqueue(Array.from({ length: 20 }, () => testEntry('u12', 'd2')));
    await w.idle();
    expect(batches).toEqual([
      [10, 0],
      [5, 5],
      [5, 5],
      [10, 0],
    ]);
    expect(await t.store.countFor('u12', 'd1')).toBe(0);
  });

  it('lists uncommitted entries for a device, one per dedup key, and stores a duplicate key once', async () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 1000, queueMax: 10_000 }, log);
    const a = testEntry('u4', 'd1', { key: 'same' });
    const other = testEntry('u4', 'd1');
    const b = testEntry('u4', 'd1', { key: 'same' });
    w.enqueue([a, other, b]);
    // Both copies carry the same frame: a drain needs one, in the place of the first.
    expect(w.pendingFor('u4', 'd1')).toEqual([b, other]);
    await w.idle();
    expect(w.pendingFor('u4', 'd1')).toEqual([]);
    // One row for the duplicated key, one for the other entry.
    expect(await t.store.countFor('u4', 'd1')).toBe(2);
  });

  it('refuses to queue past queueMax', () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 10, queueMax: 5 }, log);
    expect(() => w.enqueue(Array.from({ length: 6 }, () => testEntry('u5', 'd1')))).toThrow(OverloadedError);
    expect(w.depth).toBe(0);
  });

  it('settles entries false when their batch fails', async () => {
    const broken = new PostgresQueueStore(t.db, 5000);
    broken.commit = () => Promise.reject(new Error('database gone'));
    const w = new GroupCommitWriter(broken, { batchMax: 10, queueMax: 100 }, log);
    const e = testEntry('u6', 'd1');
    const done = settled(e);
    w.enqueue([e]);
    expect(await done).toBe(false);
    expect(e.state).toBe('failed');
  });

  it("drops a device's uncommitted entries when it is revoked", async () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 1000, queueMax: 10_000 }, log);
    const e = testEntry('u8', 'd1');
    const done = settled(e);
    w.enqueue([e, testEntry('u8', 'd2')]);
    w.dropFor('u8', 'd1');
    expect(await done).toBe(true);
    await w.idle();
    expect(await t.store.countFor('u8', 'd1')).toBe(0);
    expect(await t.store.countFor('u8', 'd2')).toBe(1);
  });

  it('sweeps entries older than the retention', async () => {
    const w = new GroupCommitWriter(t.store, { batchMax: 1000, queueMax: 10_000 }, log);
    const now = Date.now();
    w.enqueue([testEntry('u7', 'd1', { createdAt: new Date(now - 40 * 86_400_000) }), testEntry('u7', 'd1', { createdAt: new Date(now - 1000) })]);
    await w.idle();
    const sweeper = startSweeper({ store: t.store, log, now: () => now, retentionMs: 30 * 86_400_000, intervalMs: 3_600_000, chunk: 1 });
    sweeper.stop();
    await sweeper.runOnce();
    expect(await t.store.countFor('u7', 'd1')).toBe(1);
  });

  it('asks for unregistered device rows unseen for their TTL to be pruned on each run', async () => {
    const now = Date.now();
    const cutoffs: number[] = [];
    const prune = async (cutoff: Date) => {
      cutoffs.push(cutoff.getTime());
      return 0;
    };
    const sweeper = startSweeper({ store: t.store, log, now: () => now, retentionMs: 30 * 86_400_000, intervalMs: 3_600_000, unregistered: { prune, ttlMs: 86_400_000 } });
    sweeper.stop();
    await sweeper.runOnce();
    expect(cutoffs.at(-1)).toBe(now - 86_400_000);
  });
});
