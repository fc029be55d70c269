import type { EntryState, QueueEntry } from './queue-entry.ts';
import { RenewingMap } from '../util/renewing-collections.ts';

/**
 * The writer's entries that are not committed yet, per recipient device in
 * enqueue order, and findable by dedup key (an ack from another node names
 * its entry by key). Keys are the entries' own `recipientKey` strings, made
 * once per entry, so the hot path hashes no freshly built string.
 *
 * Two pending entries of one device with the same dedup key (a retry that
 * outran the first copy) share a slot: the later one is found, and the
 * earlier one leaves the index only if it still holds the slot. Either copy
 * delivers the same frame, and the database keeps one row.
 */
export class PendingIndex {
  private readonly byDevice = new RenewingMap<string, RenewingMap<string, QueueEntry>>();

  add(e: QueueEntry): void {
    let m = this.byDevice.get(e.recipientKey);
    if (!m) this.byDevice.set(e.recipientKey, (m = new RenewingMap()));
    m.set(e.dedupKey, e);
  }

  remove(e: QueueEntry): void {
    const m = this.byDevice.get(e.recipientKey);
    if (!m || m.get(e.dedupKey) !== e) return;
    m.delete(e.dedupKey);
    if (m.size === 0) this.byDevice.delete(e.recipientKey);
  }

  find(recipientKey: string, dedupKey: string): QueueEntry | undefined {
    return this.byDevice.get(recipientKey)?.get(dedupKey);
  }

  /** Entries by state, counted by a walk over all of them: for the metrics at scrape time, not for the hot path. */
  countByState(): Map<EntryState, number> {
    const counts = new Map<EntryState, number>();
    for (const m of this.byDevice.values()) for (const e of m.values()) counts.set(e.state, (counts.get(e.state) ?? 0) + 1);
    return counts;
  }

  /** The device's pending entries, oldest first. */
  forDevice(recipientKey: string): QueueEntry[] {
    const m = this.byDevice.get(recipientKey);
    return m ? [...m.values()] : [];
  }
}
