import type { QueueEntry } from './queue-entry.ts';

/** Names one entry in one device's queue. */
export interface EntryKey {
  recipientUser: string;
  recipientDevice: string;
  dedupKey: string;
}

/** A stored entry and its position in the device's queue (a cursor string that only grows). */
export interface BacklogRow {
  seq: string;
  entry: QueueEntry;
}

/**
 * The durable queue: one ordered queue per recipient device, each entry
 * unique by dedup key. Two versions share one contract test
 * (queue-store-contract.test.ts): Postgres (postgres-queue-store.ts), what
 * the relay runs on, and memory (memory-queue-store.ts), for fast tests of
 * the logic above it.
 *
 * Guarantees every version gives:
 * - a device's entries come back in the order they were committed, and a
 *   later commit's entries get higher positions than any before;
 * - `commit` applies all of a batch or none of it;
 * - an insert whose dedup key is already in the device's queue is skipped;
 * - deleting a row that is not there does nothing.
 */
export interface QueueStore {
  /**
   * Inserts and deletes, all or none. A batch never deletes a row it
   * inserts (an entry acked while its batch is in flight has its delete in
   * a later batch), so the order of the two within a batch is not defined.
   */
  commit(inserts: readonly QueueEntry[], deletes: readonly EntryKey[]): Promise<void>;
  /** One page of a device's backlog, oldest first, after `afterSeq` ('0' for the start). Entries come back committed. */
  readBacklog(user: string, device: string, afterSeq: string, limit: number): Promise<BacklogRow[]>;
  /**
   * Which of these devices have entries after their cursor: the indexes
   * into `devices` that have, so that a node re-reading its devices' queues
   * after a bus outage reads only those (most have nothing).
   */
  withBacklog(devices: readonly { user: string; device: string; afterSeq: string }[]): Promise<Set<number>>;
  /** Removes up to `limit` entries created before `cutoff`; resolves with how many went. */
  sweep(cutoff: Date, limit: number): Promise<number>;
  /**
   * Removes the queues of revoked devices: a batch in flight on another
   * node when a device was revoked can still land after the revocation's
   * delete. Resolves with how many rows went.
   */
  purgeRevoked(): Promise<number>;
  /** Removes every entry waiting for a device (it was revoked, or an operator purged its queue); resolves with how many. */
  dropDevice(user: string, device: string): Promise<number>;
  /** Entries waiting for a device (tests and metrics). */
  countFor(user: string, device: string): Promise<number>;
}
