import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GroupCommitWriter } from '../../src/delivery/group-commit.ts';
import { MemoryQueueStore } from '../../src/delivery/memory-queue-store.ts';
import { newEntry, type QueueEntry } from '../../src/delivery/queue-entry.ts';
import { createLogger } from '../../src/util/logger.ts';

/**
 * The writer's write delay on a test's clock: the writer reads entries'
 * ages from its `now`, and its waits are timers, so with fake timers a
 * minute of delay passes in no time. The store is the memory one.
 */
describe('group commit on a test clock', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  let n = 0;
  const entry = (): QueueEntry => {
    const id = `m${n++}`;
    return newEntry({ recipientUser: 'bob', recipientDevice: 'b1', dedupKey: id, messageId: id, kind: 'deliver', senderUser: 's', senderDevice: 'sd', frame: '{}', createdAt: new Date(Date.now()) });
  };
  const DELAY = 60_000;
  const writer = (store: MemoryQueueStore) => new GroupCommitWriter(store, { batchMax: 100, queueMax: 100, delayMs: DELAY, now: () => Date.now() }, createLogger('silent'));

  it('holds an insert its device may ack for the whole delay, then writes it; one acked meanwhile is never written', async () => {
    const store = new MemoryQueueStore();
    const w = writer(store);
    const kept = entry();
    const acked = entry();
    w.enqueue([kept, acked]);
    await vi.advanceTimersByTimeAsync(DELAY / 2);
    expect(store.commits).toBe(0);
    w.ack(acked);
    await vi.advanceTimersByTimeAsync(DELAY / 2 - 1);
    expect(store.commits).toBe(0);
    await vi.advanceTimersByTimeAsync(2);
    expect(kept.state).toBe('committed');
    expect(acked.state).toBe('acked');
    expect((await store.readBacklog('bob', 'b1', '0', 10)).map((r) => r.entry.messageId)).toEqual([kept.messageId]);
  });

  it('writes an insert no device can ack on the next turn, then holds a later one its device may ack for the whole delay', async () => {
    const store = new MemoryQueueStore();
    const w = writer(store);
    const now = entry();
    w.enqueue([now], () => false);
    await vi.advanceTimersByTimeAsync(1);
    expect(now.state).toBe('committed');
    const held = entry();
    w.enqueue([held]);
    await vi.advanceTimersByTimeAsync(DELAY - 10);
    expect(held.state).toBe('queued');
    await vi.advanceTimersByTimeAsync(20);
    expect(held.state).toBe('committed');
    expect(store.commits).toBe(2);
  });
});
