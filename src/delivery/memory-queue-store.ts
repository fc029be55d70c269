import { committedEntry, deviceKey, type QueueEntry } from './queue-entry.ts';
import type { BacklogRow, EntryKey, QueueStore } from './queue-store.ts';

interface Row {
  seq: number;
  entry: QueueEntry;
}

/**
 * The queue in memory, under the same contract as the Postgres store
 * (queue-store.ts). Nothing survives the process: it is for tests of the
 * writer, the delivery service and sessions that need no database, so they
 * run in milliseconds. `revoked` says which devices purgeRevoked clears (the
 * Postgres store reads the devices table).
 *
 * Each device's rows are an array in seq order; a commit appends, so a
 * page is a binary search and a slice.
 */
export class MemoryQueueStore implements QueueStore {
  private seq = 0;
  private readonly queues = new Map<string, Row[]>();
  /** Commits made (tests count writes with it). */
  commits = 0;

  constructor(private readonly revoked: (user: string, device: string) => boolean = () => false) {}

  async commit(inserts: readonly QueueEntry[], deletes: readonly EntryKey[]): Promise<void> {
    this.commits++;
    for (const e of inserts) {
      const key = deviceKey(e.recipientUser, e.recipientDevice);
      const rows = this.queues.get(key) ?? [];
      if (rows.some((r) => r.entry.dedupKey === e.dedupKey)) continue;
      // A copy, committed: what a read returns is never the writer's own object.
      rows.push({ seq: ++this.seq, entry: committedEntry(e) });
      this.queues.set(key, rows);
    }
    for (const d of deletes) {
      const key = deviceKey(d.recipientUser, d.recipientDevice);
      const rows = this.queues.get(key);
      const i = rows?.findIndex((r) => r.entry.dedupKey === d.dedupKey) ?? -1;
      if (i >= 0) rows!.splice(i, 1);
      if (rows?.length === 0) this.queues.delete(key);
    }
  }

  async readBacklog(user: string, device: string, afterSeq: string, limit: number): Promise<BacklogRow[]> {
    const rows = this.queues.get(deviceKey(user, device)) ?? [];
    const from = firstAfter(rows, Number(afterSeq));
    return rows.slice(from, from + limit).map((r) => ({ seq: String(r.seq), entry: committedEntry(r.entry) }));
  }

  async withBacklog(devices: readonly { user: string; device: string; afterSeq: string }[]): Promise<Set<number>> {
    const out = new Set<number>();
    devices.forEach((d, i) => {
      const rows = this.queues.get(deviceKey(d.user, d.device)) ?? [];
      if (firstAfter(rows, Number(d.afterSeq)) < rows.length) out.add(i);
    });
    return out;
  }

  async sweep(cutoff: Date, limit: number): Promise<number> {
    let n = 0;
    for (const [key, rows] of this.queues) {
      const keep: Row[] = [];
      for (const r of rows) {
        if (r.entry.createdAt < cutoff && n < limit) n++;
        else keep.push(r);
      }
      if (keep.length === 0) this.queues.delete(key);
      else this.queues.set(key, keep);
    }
    return n;
  }

  async purgeRevoked(): Promise<number> {
    let n = 0;
    for (const [key, rows] of this.queues) {
      const { recipientUser, recipientDevice } = rows[0]!.entry;
      if (!this.revoked(recipientUser, recipientDevice)) continue;
      n += rows.length;
      this.queues.delete(key);
    }
    return n;
  }

  async dropDevice(user: string, device: string): Promise<number> {
    const key = deviceKey(user, device);
    const n = this.queues.get(key)?.length ?? 0;
    this.queues.delete(key);
    return n;
  }

  async countFor(user: string, device: string): Promise<number> {
    return this.queues.get(deviceKey(user, device))?.length ?? 0;
  }
}

/** The index of the first row whose seq is above `seq` (rows are in seq order). */
function firstAfter(rows: readonly Row[], seq: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
