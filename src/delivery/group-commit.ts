import { KeyedSets } from '../util/keyed-sets.ts';
import type { Logger } from '../util/logger.ts';
import { advance } from './entry-state.ts';
import { PendingIndex } from './pending-index.ts';
import { deviceKey, settle, type EntryState, type QueueEntry } from './queue-entry.ts';
import type { EntryKey, QueueStore } from './queue-store.ts';
import { RenewingMap, RenewingSet } from '../util/renewing-collections.ts';

export class OverloadedError extends Error {
  override readonly name = 'OverloadedError';
}

export interface GroupCommitOptions {
  /** Most operations (inserts + deletes) in one transaction. */
  batchMax: number;
  /** Told of each committed batch: its operations and how long its commit took (s); for the metrics. */
  observeBatch?: (ops: number, seconds: number) => void;
  /**
   * How long an insert that its device may ack waits before its batch
   * starts (ms). A connected recipient acks within a round trip; an ack
   * that arrives in this window cancels the write, so messages between
   * online devices never touch the database. Inserts nobody can ack in time
   * do not wait (see `enqueue`). 0 starts batches on the next turn of the loop.
   */
  delayMs?: number;
  /** Most operations waiting; beyond it `enqueue` throws OverloadedError. */
  queueMax: number;
  /** Told of every batch's committed inserts, after the commit and before their senders are answered (the delivery service sends them to other nodes again). */
  committed?: (entries: readonly QueueEntry[]) => void;
  /** The clock entries' ages are read on (ms since the epoch); Date.now unless a test drives it. */
  now?: () => number;
}

/** A delete that failed is tried again this many times before its entry is left for redelivery. */
const DELETE_ATTEMPTS = 3;

/**
 * Group commit for the queue: every insert and delete of one event-loop turn
 * (and of the time the previous batch was in flight) goes to Postgres in one
 * transaction. Under load batches grow by themselves; when idle a single
 * entry is committed at once. One batch is in flight at a time, so
 * operations commit in the order they were enqueued, which is what keeps
 * per-device order and lets an ack's delete follow its insert.
 */
export class GroupCommitWriter {
  /**
   * Inserts still to be written that wait out the delay, in enqueue order.
   * An entry acked while it waits leaves at once: an array that kept acked
   * entries until their turn came held each acked message's entry and frame
   * for the whole delay, for nothing.
   */
  private readonly held = new RenewingSet<QueueEntry>();
  /** Inserts written as soon as a batch can take them, in enqueue order (no device could ack them in time). */
  private readonly writeNow = new RenewingSet<QueueEntry>();
  /**
   * How many of each device's entries are in `held`, by deviceKey. A
   * device's entries reach the database in enqueue order (its backlog is read
   * in insert order), so an entry goes to `writeNow` only while none of its
   * device's entries are held: it would overtake them.
   */
  private readonly heldPerDevice = new RenewingMap<string, number>();
  /** Held entries that `release` let go while others of their device were still held, by deviceKey, in enqueue order; each leaves with `unhold`. */
  private readonly released = new KeyedSets<string, QueueEntry>();
  /** Rows to delete, each with its recipient's deviceKey (the `deleting` index's key). */
  private deletes: { key: EntryKey; device: string; attempts: number }[] = [];
  private flushing = false;
  /** The batch being committed, if any. */
  private committing: Promise<void> | undefined;
  private scheduled = false;
  /** The timed start of the next flush, when one is set. */
  private timer: NodeJS.Timeout | undefined;
  /** Cuts short holdForAcks's wait for a held insert to ripen: an insert to write at once has come, or no held insert is left. */
  private wake: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Entries not yet committed, per recipient device, in enqueue order. */
  private readonly pending = new PendingIndex();
  /** Dedup keys of acked rows whose delete is not committed yet, per recipient device: a drain must not send them again. */
  private readonly deleting = new KeyedSets<string, string>();
  private batches = 0;
  private failedBatches = 0;
  private committedOps = 0;
  private readonly now: () => number;

  constructor(
    private readonly store: QueueStore,
    private readonly opts: GroupCommitOptions,
    private readonly log: Logger,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Queues entries for commit. All or none: throws OverloadedError when the
   * queue is full. An entry that `mayBeAcked` says no device can ack before
   * it is written (its device is connected nowhere) skips the delay, so its
   * sender's sent_ack waits for the commit only; every other entry waits.
   */
  enqueue(entries: readonly QueueEntry[], mayBeAcked: (e: QueueEntry) => boolean = () => true): void {
    if (this.depth + entries.length > this.opts.queueMax) throw new OverloadedError('write queue full');
    for (const e of entries) {
      if (mayBeAcked(e) || this.heldPerDevice.has(e.recipientKey)) this.hold(e);
      else this.writeNow.add(e);
      this.pending.add(e);
    }
    this.schedule();
  }

  /**
   * No device can ack these entries any more (the bus reached no node that
   * holds their recipient): those still waiting out the delay are written
   * as soon as a batch can take them, so their senders are not kept waiting
   * for nothing.
   *
   * A device's held entries leave the wait together: one released while
   * another of its device is still held (a later send, whose bus message
   * has not been answered yet) waits in `released` until the rest are
   * released too, or ripens with the delay as before, so the device's
   * order holds. Calls come in enqueue order (the bus answers in publish
   * order). Entries are named by key, as a bus message names them; those
   * acked, written or not held are skipped, and an entry released twice
   * (two pending entries of a device that share a dedup key, a retry,
   * share a key) is moved once. A wrong release costs only a write that an
   * ack would have spared.
   */
  release(keys: readonly EntryKey[]): void {
    const devices = new Set<string>();
    for (const key of keys) {
      const e = this.pending.find(deviceKey(key.recipientUser, key.recipientDevice), key.dedupKey);
      if (!e || !this.held.has(e)) continue;
      this.released.add(e.recipientKey, e);
      devices.add(e.recipientKey);
    }
    let moved = false;
    for (const device of devices) if (this.letGo(device)) moved = true;
    if (moved) this.schedule();
  }

  /**
   * Moves a device's released entries to `writeNow` once every held entry
   * of the device is released; true if it moved any.
   */
  private letGo(device: string): boolean {
    const n = this.released.count(device);
    if (n === 0 || n < this.heldPerDevice.get(device)!) return false;
    // A copy: unhold takes each entry out of `released`.
    for (const e of [...this.released.values(device)]) {
      this.unhold(e);
      this.writeNow.add(e);
    }
    return true;
  }

  /**
   * The recipient device acked this entry. Not yet written: it never will be.
   * Written or being written: its row is deleted by a later batch.
   */
  ack(entry: QueueEntry): void {
    switch (entry.state) {
      case 'queued':
        advance(entry, 'acked');
        if (!this.unhold(entry)) this.writeNow.delete(entry);
        // Released entries of its device that waited only for this one go now.
        else if (this.letGo(entry.recipientKey)) this.schedule();
        this.pending.remove(entry);
        // Nothing left to wait for: a flush waiting for this entry to ripen ends (idle() resolves at once).
        if (this.held.size === 0) this.wake?.();
        settle(entry, true);
        return;
      case 'flushing':
      case 'committed':
        advance(entry, 'acked');
        // The recipient has it: the sender may be answered now, whatever becomes of the batch writing it.
        settle(entry, true);
        this.queueDelete(entry, entry.recipientKey);
        return;
      case 'acked':
      case 'failed':
      // Another node's entry: its ack goes there (delivery-service.ts), never to this writer.
      case 'remote':
        return;
    }
  }

  /**
   * A device on another node acked an entry this writer holds, named by its
   * key. Still pending: acked as above (a queued insert is never written).
   * Otherwise its row is deleted; a delete of a row that was never written
   * (its batch failed) or is already gone does nothing.
   */
  ackKey(key: EntryKey): void {
    const device = deviceKey(key.recipientUser, key.recipientDevice);
    const e = this.pending.find(device, key.dedupKey);
    if (e) this.ack(e);
    else this.queueDelete(key, device);
  }

  /**
   * Forgets everything not yet committed for a device (it was revoked):
   * queued entries are never written, entries being written are deleted by
   * the next batch. Their senders are answered as if the device had acked.
   */
  dropFor(user: string, device: string): void {
    for (const e of this.pendingFor(user, device)) this.ack(e);
  }

  /** Resolves when the batch being committed now, if any, has committed or failed. */
  batchInFlight(): Promise<void> {
    return (this.committing ?? Promise.resolve()).then(
      () => {},
      () => {},
    );
  }

  /** True when the device acked this row and its delete is still on its way to the database. */
  isDeleting(user: string, device: string, dedupKey: string): boolean {
    return this.deleting.has(deviceKey(user, device), dedupKey);
  }

  /** Entries for a device that are not committed yet, oldest first (a connecting device's drain needs them). */
  pendingFor(user: string, device: string): QueueEntry[] {
    return this.pending.forDevice(deviceKey(user, device));
  }

  get depth(): number {
    return this.held.size + this.writeNow.size + this.deletes.length;
  }

  stats(): { batches: number; failedBatches: number; committedOps: number; depth: number } {
    return { batches: this.batches, failedBatches: this.failedBatches, committedOps: this.committedOps, depth: this.depth };
  }

  /** Entries not committed yet (or being deleted), by state: read at scrape time. */
  pendingByState(): Map<EntryState, number> {
    return this.pending.countByState();
  }

  /** Resolves once everything enqueued so far has been committed or has failed (shutdown). */
  idle(): Promise<void> {
    if (!this.flushing && this.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Starts a flush: after delayMs, or on the next turn when an insert is to
   * be written at once. A flush already running takes what was queued; one
   * waiting for a held insert to ripen is woken for an insert to write now.
   */
  private schedule(): void {
    const now = this.writeNow.size > 0;
    if (this.flushing) {
      if (now) this.wake?.();
      return;
    }
    const delay = now ? 0 : (this.opts.delayMs ?? 0);
    if (this.scheduled) {
      // Already coming: at once, or after the delay and nothing is urgent. Otherwise the timed start is moved up.
      if (this.timer === undefined || delay > 0) return;
      clearTimeout(this.timer);
    }
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.timer = undefined;
      void this.flush();
    };
    if (delay > 0) this.timer = setTimeout(run, delay).unref();
    else {
      this.timer = undefined;
      setImmediate(run);
    }
  }

  private hold(e: QueueEntry): void {
    this.held.add(e);
    this.heldPerDevice.set(e.recipientKey, (this.heldPerDevice.get(e.recipientKey) ?? 0) + 1);
  }

  /** Takes the entry out of `held`; false if it was not there. */
  private unhold(e: QueueEntry): boolean {
    if (!this.held.delete(e)) return false;
    const n = this.heldPerDevice.get(e.recipientKey)!;
    if (n > 1) this.heldPerDevice.set(e.recipientKey, n - 1);
    else this.heldPerDevice.delete(e.recipientKey);
    this.released.delete(e.recipientKey, e);
    return true;
  }

  /**
   * Waits until the oldest held insert has waited delayMs, unless inserts
   * are waiting in `writeNow`. First it yields to I/O once: acks that
   * arrived while the previous batch ran (an embedded database blocks the
   * loop while it writes) are read and cancel their inserts before the next
   * batch is taken. Deletes ride along: they are idempotent, drains skip
   * rows whose delete is pending (isDeleting), and letting them cut the wait
   * short would write every insert under steady traffic, since some delete
   * is always pending then.
   */
  private async holdForAcks(): Promise<void> {
    const delay = this.opts.delayMs ?? 0;
    if (delay <= 0) return;
    await new Promise((r) => setImmediate(r));
    if (this.writeNow.size > 0) return;
    const oldest = this.held.values().next().value;
    if (!oldest) return;
    const wait = oldest.createdAt.getTime() + delay - this.now();
    if (wait <= 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, wait);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.wake = undefined;
  }

  private queueDelete(key: EntryKey, device: string): void {
    // Copy the key: an entry object would be kept alive by the delete list for nothing.
    this.deletes.push({ key: { recipientUser: key.recipientUser, recipientDevice: key.recipientDevice, dedupKey: key.dedupKey }, device, attempts: 0 });
    this.deleting.add(device, key.dedupKey);
    this.schedule();
  }

  private doneDeleting(d: { key: EntryKey; device: string }): void {
    this.deleting.delete(d.device, d.key.dedupKey);
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.depth > 0) {
        await this.holdForAcks();
        // Deletes are owed at least half of a batch: under a steady stream of inserts they would
        // otherwise never get a place, pile up to queueMax and refuse new sends as overloaded.
        const inserts = this.takeInserts(this.opts.batchMax - Math.min(this.deletes.length, Math.floor(this.opts.batchMax / 2)));
        const deletes = this.deletes.splice(0, Math.max(0, this.opts.batchMax - inserts.length));
        if (inserts.length === 0 && deletes.length === 0) continue;
        for (const e of inserts) advance(e, 'flushing');
        try {
          const started = performance.now();
          this.committing = this.store.commit(
            inserts,
            deletes.map((d) => d.key),
          );
          await this.committing;
          this.batches++;
          this.committedOps += inserts.length + deletes.length;
          this.opts.observeBatch?.(inserts.length + deletes.length, (performance.now() - started) / 1000);
          for (const e of inserts) {
            this.pending.remove(e);
            // An entry acked while flushing is already 'acked' with its delete queued; it is durable all the same.
            advance(e, 'committed');
          }
          // Before the senders' sent_acks: a sender's next message must not reach another node before this batch's copies.
          this.opts.committed?.(inserts);
          for (const e of inserts) settle(e, true);
          for (const d of deletes) this.doneDeleting(d);
        } catch (err) {
          this.failedBatches++;
          this.log.error('queue batch failed', { err, inserts: inserts.length, deletes: deletes.length });
          for (const e of inserts) {
            this.pending.remove(e);
            advance(e, 'failed');
            settle(e, false);
          }
          // Deletes are idempotent: retry a few times, then leave the rows to be delivered again (at-least-once).
          const retry = deletes.filter((d) => ++d.attempts < DELETE_ATTEMPTS);
          for (const d of deletes) if (d.attempts >= DELETE_ATTEMPTS) this.doneDeleting(d);
          this.deletes.unshift(...retry);
          if (retry.length > 0) await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      this.committing = undefined;
      this.flushing = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Takes up to `max` inserts: those in `writeNow`, then the held ones that
   * have waited delayMs (acked ones are in neither set). Younger ones stay
   * for a later batch even when the writer is behind: otherwise a slow
   * batch makes the next one take everything queued during it, entries that
   * their recipients would have acked a moment later included, and the
   * extra writes slow the batch after that in turn.
   *
   * Per device, enqueue order is kept: an entry in `writeNow` was queued
   * while none of its device's entries were held, so any held entry of its
   * device in the same batch is younger and comes after it.
   */
  private takeInserts(max: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (const e of this.writeNow) {
      if (out.length >= max) return out;
      out.push(e);
      this.writeNow.delete(e);
    }
    const ripe = this.now() - (this.opts.delayMs ?? 0);
    for (const e of this.held) {
      // Enqueue order is creation order, so the first young entry ends the ripe prefix.
      if (out.length >= max || e.createdAt.getTime() > ripe) break;
      out.push(e);
      this.unhold(e);
    }
    return out;
  }
}
