import { nodeTopic, type Bus, type BusMessage } from '../bus/bus.ts';
import type { CallSignal } from '../calls/call-registry.ts';
import type { Logger } from '../util/logger.ts';
import { KeyRing } from '../util/key-ring.ts';
import type { LocalDevices } from './delivery-target.ts';
import { advance } from './entry-state.ts';
import { GroupCommitWriter, OverloadedError, type GroupCommitOptions } from './group-commit.ts';
import { deliveredReceiptOf, deviceKey, type EntryState, type QueueEntry } from './queue-entry.ts';
import type { EntryKey, QueueStore } from './queue-store.ts';
import { Router } from './router.ts';

export interface DeliveryOptions {
  store: QueueStore;
  bus: Bus;
  /** The devices connected to this node. */
  local: LocalDevices;
  log: Logger;
  now: () => number;
  /** The writer's batch size, queue bound and write delay (WRITE_* settings). */
  writer: Omit<GroupCommitOptions, 'committed' | 'now'>;
  /** Told of each committed batch after the other nodes are (push wake-up). */
  committed?: (entries: readonly QueueEntry[]) => void;
  /** Each device here that a pushed call signal reached. */
  callSignal?: (user: string, device: string, signal: CallSignal) => void;
  /** Acks of other nodes' entries remembered, against copies of them that come again. */
  recentAcks?: number;
}

/** One page of a device's backlog, as a session sends it. */
export interface BacklogPage {
  /** Entries to send, oldest first: the rows read, but those the device acked already. */
  entries: QueueEntry[];
  /** The position of the page's last row read ('' when the page was empty): the next page starts after it. */
  lastSeq: string;
  /** Whether the page was full (more may follow). */
  full: boolean;
}

/** What a session needs of the delivery service. */
export type SessionDelivery = Pick<DeliveryService, 'ack' | 'ackedHere' | 'pendingFor' | 'readBacklog'>;

/**
 * The one owner of a stored entry's life, from the send that makes it to
 * the ack that ends it. Handlers and sessions talk to it alone; behind it:
 *
 * - the group-commit writer (group-commit.ts), which makes entries durable
 *   in batches and cancels the write of one acked in time;
 * - the router (router.ts), which offers entries to devices here and
 *   publishes them to the node holding the device;
 * - the queue store (queue-store.ts), where a device's backlog waits.
 *
 * It wires the two directions between writer and router, which know
 * nothing of each other: each commit sends its entries to the other nodes
 * again, and an entry whose first copy no node can ack is written at once.
 * And it routes acks: an entry of this node's writer is acked there, an
 * entry another node holds is acked on that node's topic, with the
 * receipt its sender is owed (that node stores it).
 *
 * Entry states move only through entry-state.ts, from here and the writer.
 *
 * An ack lost on the bus (Redis down, the origin node gone) leaves a row
 * behind; it is delivered again on the device's next drain (after a bus
 * outage every session drains), acked again, and then deleted here, since
 * rows read from the database are this node's to delete. At least once,
 * as everywhere else.
 */
export class DeliveryService {
  private readonly writer: GroupCommitWriter;
  /** Ephemeral pushes go through it too (typing, presence, calls); stored entries only through this service. */
  readonly router: Router;
  /**
   * Entries acked here lately that another node may publish to us again:
   * its copies, and rows read from the database (which may be its entries
   * too). The origin republishes an entry once committed, and a copy that
   * crossed our ack is not delivered twice. This node's own entries acked
   * before their commit never come back, and are not recorded.
   *
   * Kept outside the heap (KeyRing): each ack's key would otherwise live
   * for seconds on a busy node, long enough to be promoted. Its keys hold
   * two ids of the recipient and three or more of the dedup key (about 200
   * characters with UUIDs), hence 256 bytes each.
   */
  private readonly acked: KeyRing;

  constructor(private readonly o: DeliveryOptions) {
    this.acked = new KeyRing(o.recentAcks ?? 20_000, 256);
    this.writer = new GroupCommitWriter(o.store, { ...o.writer, now: o.now, committed: (entries) => this.committed(entries) }, o.log);
    this.router = new Router(o.local, o.bus, {
      ackedHere: (key) => this.ackedHere(key),
      unheard: (keys) => this.writer.release(keys),
      callSignal: o.callSignal,
      againAfterMs: o.writer.delayMs,
      now: o.now,
    });
  }

  // ---- from senders -----------------------------------------------------

  /**
   * Takes new entries: queued for commit, and offered at once to their
   * devices here and on other nodes. Each entry's onSettled says when it is
   * durable or acked. False, with nothing queued or sent, when the write
   * queue is full.
   */
  store(entries: readonly QueueEntry[]): boolean {
    try {
      this.writer.enqueue(entries, this.router.mayBeAcked);
    } catch (err) {
      if (!(err instanceof OverloadedError)) throw err;
      return false;
    }
    this.router.offer(entries);
    return true;
  }

  // ---- from sessions ----------------------------------------------------

  /** The recipient device acked `entry` on this node. */
  ack(entry: QueueEntry): void {
    if (entry.origin === undefined) {
      if (entry.state === 'committed') this.acked.add(ackedKey(entry.recipientKey, entry.dedupKey));
      return this.writer.ack(entry);
    }
    if (entry.state !== 'remote' || !advance(entry, 'acked')) return;
    this.acked.add(ackedKey(entry.recipientKey, entry.dedupKey));
    const ack: Extract<BusMessage, { k: 'ack' }> = { k: 'ack', user: entry.recipientUser, device: entry.recipientDevice, key: entry.dedupKey };
    const delivered = deliveredReceiptOf(entry);
    if (delivered) ack.delivered = delivered;
    this.o.bus.publish(nodeTopic(entry.origin), ack);
  }

  /** True when a device here acked this entry lately. */
  ackedHere(key: EntryKey): boolean {
    return this.acked.find(ackedKey(deviceKey(key.recipientUser, key.recipientDevice), key.dedupKey)) >= 0;
  }

  /** Entries for a device that are not committed yet, oldest first (a connecting device's drain sends them after its backlog). */
  pendingFor(user: string, device: string): QueueEntry[] {
    return this.writer.pendingFor(user, device);
  }

  /** One page of the device's backlog after `afterSeq`, without the rows it acked already (their deletes are still on their way, here or on the node that wrote them). */
  async readBacklog(user: string, device: string, afterSeq: string, limit: number): Promise<BacklogPage> {
    const rows = await this.o.store.readBacklog(user, device, afterSeq, limit);
    const entries: QueueEntry[] = [];
    for (const r of rows) if (!this.writer.isDeleting(user, device, r.entry.dedupKey) && !this.ackedHere(r.entry)) entries.push(r.entry);
    return { entries, lastSeq: rows.at(-1)?.seq ?? '', full: rows.length >= limit };
  }

  // ---- from other nodes -------------------------------------------------

  /** Entries for devices here, and `absent` answers to this node's first copies. */
  receive(topic: string, msg: Extract<BusMessage, { k: 'entries' } | { k: 'absent' } | { k: 'push' }>): void {
    if (msg.k === 'absent') {
      if (topic === nodeTopic(this.o.bus.nodeId)) this.router.absent(msg);
    } else this.router.receive(topic, msg);
  }

  /** A device on another node acked an entry of this node's writer. */
  receiveAck(user: string, device: string, key: string): void {
    this.writer.ackKey({ recipientUser: user, recipientDevice: device, dedupKey: key });
  }

  // ---- devices leaving --------------------------------------------------

  /**
   * Empties a device's queue (revoked, or purged by an operator): entries
   * not yet written are dropped at once, as if acked (their senders are
   * answered), then, once the batch in flight is done, every stored row.
   * Resolves with the rows deleted.
   */
  async purge(user: string, device: string): Promise<number> {
    this.writer.dropFor(user, device);
    await this.writer.batchInFlight();
    return this.o.store.dropDevice(user, device);
  }

  // ---- operations -------------------------------------------------------

  /** Resolves once everything queued so far is committed or failed (shutdown). */
  idle(): Promise<void> {
    return this.writer.idle();
  }

  writerStats(): ReturnType<GroupCommitWriter['stats']> {
    return this.writer.stats();
  }

  /** Entries in the writer's hands, by state (read at scrape time). */
  pendingByState(): Map<EntryState, number> {
    return this.writer.pendingByState();
  }

  /** A committed batch: to the other nodes again first, then to whoever else listens. */
  private committed(entries: readonly QueueEntry[]): void {
    this.router.forwardCommitted(entries);
    this.o.committed?.(entries);
  }
}

/** The `acked` ring's key: the recipient's deviceKey (an entry's `recipientKey`) and the dedup key. */
const ackedKey = (recipientKey: string, dedupKey: string): string => `${recipientKey}\u0000${dedupKey}`;
