import { BROADCAST, nodeTopic, type Bus, type BusMessage } from '../bus/bus.ts';
import type { CallSignal } from '../calls/call-registry.ts';
import { GenerationalMap } from '../util/generational-map.ts';
import type { LocalDevices } from './delivery-target.ts';
import { fromWire, toWire, type QueueEntry, type WireEntry } from './queue-entry.ts';
import type { EntryKey } from './queue-store.ts';

/** First copies (and their entries' absences) remembered for `absent` answers; an answer comes within a round trip. */
const REMEMBERED = 20_000;
/** First copies whose count of nodes reached is awaited, as flags in a ring by copy number (see `unanswered`). */
const UNANSWERED_RING = 1 << 16;
/** `absent` answers held for a count still to come, at most; past that they count as from the only node reached. */
const EARLY_MAX = 10_000;

/** What the rest of the relay may use of the router: ephemeral frames, and who is here. Stored entries go through the delivery service. */
export type EphemeralRouter = Pick<Router, 'push' | 'isOnline'>;

export interface RouterOptions {
  /** Whether a device here acked this entry lately (a second copy of it is then not delivered again). */
  ackedHere: (key: EntryKey) => boolean;
  /**
   * Keys of entries that no device can ack before their write: their first
   * copy reached no other node, or every node it reached answered that it
   * holds none of their devices: the writer writes them at once (its
   * `release`). Unset, first copies are not numbered or counted.
   */
  unheard?: (keys: readonly EntryKey[]) => void;
  /** Each device here that a push carrying a call signal reached (call-registry.ts keeps the legs). */
  callSignal?: (user: string, device: string, signal: CallSignal) => void;
  /** The earliest a committed entry's second copy goes out, after the entry was made (ms): the write delay. See forwardCommitted. */
  againAfterMs?: number;
  now?: () => number;
}

/**
 * Hands frames to devices, wherever they are connected.
 *
 * - Stored entries go to a device connected here at once, before their
 *   batch commits (it may ack early and spare the write). Entries for
 *   devices not connected here are published to the recipient user's bus
 *   topic at once too, naming this node: the node holding the device
 *   delivers them and sends the ack back here (delivery-service.ts), where it
 *   cancels the write just as a local ack does. Entries still unacked when
 *   committed are published once more, for a node that had no room for
 *   the first copy and read its backlog before the commit. A device
 *   connected nowhere gets them from its backlog when it connects; when
 *   the first copy reached no other node, or every node it reached holds
 *   none of a device's entries (each answers `absent`), the writer is
 *   told, and writes them without waiting for an ack that cannot come.
 * - Ephemeral frames go to local devices and, through the bus, to the
 *   user's devices on other nodes.
 * The router never asks anyone where a device is: no lookup per message.
 */
export class Router {
  private readonly unheardHook: ((keys: readonly EntryKey[]) => void) | undefined;
  private readonly callHook: ((user: string, device: string, signal: CallSignal) => void) | undefined;
  private readonly ackedHere: (key: EntryKey) => boolean;
  private readonly againAfterMs: number;
  private readonly now: () => number;
  /** Numbers this node's first copies, for the `absent` answers to them. */
  private seq = 0;
  /** First copies that reached more than one other node: how many, by number (an `absent` from each lets an entry go). */
  private readonly reachOf = new GenerationalMap<number, number>(REMEMBERED);
  /** `absent` answers counted so far for entries of such copies, by copy number and key. */
  private readonly absences = new GenerationalMap<string, number>(REMEMBERED);
  /**
   * 1 for a first copy published whose count of nodes reached has not come
   * back yet, by copy number modulo the ring: a flag per copy, nothing
   * allocated. An `absent` from another node can arrive first (the origin
   * reads its subscriber's socket before its publisher's), and counted then
   * it would let an entry go that a third node may still ack.
   */
  private readonly unanswered = new Uint8Array(UNANSWERED_RING);
  /** `absent` answers that came before their copy's count, by copy number; rare, so made only when needed. */
  private early: Map<number, Extract<BusMessage, { k: 'absent' }>[]> | undefined;
  private earlyCount = 0;

  constructor(
    private readonly local: LocalDevices,
    private readonly bus: Bus,
    opts: RouterOptions,
  ) {
    this.ackedHere = opts.ackedHere;
    this.unheardHook = opts.unheard;
    this.callHook = opts.callSignal;
    this.againAfterMs = opts.againAfterMs ?? 0;
    this.now = opts.now ?? Date.now;
  }

  /** New entries (not yet committed): to devices here, and to the other nodes for the rest. */
  offer(entries: readonly QueueEntry[]): void {
    let away: QueueEntry[] | undefined;
    for (const e of entries) {
      const target = this.local.find(e.recipientUser, e.recipientDevice);
      if (target) target.offer(e);
      else (away ??= []).push(e);
    }
    if (away && this.bus.hasPeers) this.publish(away, false);
  }

  /**
   * Whether a device may ack this entry before its write starts: its device
   * is connected here, or other nodes may hold it. The writer holds such an
   * entry for its write delay; any other is written at once, since no ack
   * can spare its write (writeNow in the writer).
   */
  readonly mayBeAcked = (e: QueueEntry): boolean => this.bus.hasPeers || this.local.find(e.recipientUser, e.recipientDevice) !== undefined;

  /**
   * Committed entries (the writer's batch) that no device acked yet, for devices
   * not connected here, go to the other nodes again; that copy is what
   * reaches a node whose drain read the table before the commit.
   *
   * It goes at once, at the commit: before the sender's sent_ack, so
   * before any later message of the sender, which must not reach the
   * device first (a device that reconnected elsewhere just before this
   * commit missed the first copy, and its drain read the table before it).
   * An entry younger than `againAfterMs` goes once more at that age, as
   * every entry did when all waited that long before their write: the node
   * about to hold the device may still be subscribing, or the bus still
   * reconnecting after an outage, and the copy at the commit would be lost
   * as well. A node that gets both delivers one (in-flight keys, recent acks).
   */
  forwardCommitted(entries: readonly QueueEntry[], retry = false): void {
    if (!this.bus.hasPeers) return;
    const now = this.now();
    let away: QueueEntry[] | undefined;
    let later: QueueEntry[] | undefined;
    let wait = 0;
    for (const e of entries) {
      if (e.state !== 'committed' || this.local.find(e.recipientUser, e.recipientDevice)) continue;
      if (!retry) (away ??= []).push(e);
      const due = e.createdAt.getTime() + this.againAfterMs - now;
      if (due > 0) {
        (later ??= []).push(e);
        wait = Math.max(wait, due);
      } else if (retry) (away ??= []).push(e);
    }
    if (away) this.publish(away, true);
    // Checked again then: an entry acked meanwhile, or whose device connected here, is not sent.
    if (later) setTimeout((list: QueueEntry[]) => this.forwardCommitted(list, true), wait, later).unref();
  }

  /**
   * Sends an ephemeral frame to a user's approved devices here (all, one, or
   * all but one) and through the bus to the other nodes. Returns how many
   * devices it reached on this node. A call frame carries its signal, and
   * the node that delivers it updates the leg of each device it reached.
   */
  push(user: string, frame: string, opts: PushOptions = {}): number {
    this.bus.publish(user, { k: 'push', frame, device: opts.device, except: opts.except, ...(opts.call ? { call: opts.call } : {}) });
    return this.pushLocal(user, frame, opts);
  }

  /** Bus messages for delivery: entries and pushes for devices connected here. */
  receive(topic: string, msg: BusMessage): void {
    if (topic === BROADCAST) return;
    if (msg.k === 'entries') {
      let absent: [string, string, string][] | undefined;
      for (const w of msg.entries) {
        const target = this.local.find(w.recipientUser, w.recipientDevice);
        if (target) {
          // Only a second copy can follow an ack made here: a first copy is what a device here would ack.
          if (!(msg.again && this.ackedHere(w))) target.offer(fromWire(w, msg.node, msg.again === true));
        } else if (msg.s !== undefined) (absent ??= []).push([w.recipientUser, w.recipientDevice, w.dedupKey]);
      }
      // Another device of the user is here, not this one: the origin need not wait for an ack from here.
      if (absent) this.bus.publish(nodeTopic(msg.node), { k: 'absent', s: msg.s!, keys: absent });
    } else if (msg.k === 'push') {
      this.pushLocal(topic, msg.frame, msg);
    }
  }

  /** Whether the user (or that one device) has an approved device connected here. */
  isOnline(user: string, device?: string): boolean {
    const devices = this.local.devicesOf(user);
    if (!devices) return false;
    for (const d of devices) if (d.isApproved && (device === undefined || d.deviceId === device)) return true;
    return false;
  }

  /**
   * Publishes entries to their recipients' topics, one message per user;
   * `again` for copies published at their commit. A first copy is
   * numbered, and the bus tells `reached` how many other nodes heard it:
   * none sends its entries to the unheard hook at once; several are
   * remembered for counting `absent` answers.
   */
  private publish(entries: readonly QueueEntry[], again: boolean): void {
    const byUser = new Map<string, WireEntry[]>();
    for (const e of entries) {
      const wire = toWire(e);
      const list = byUser.get(e.recipientUser);
      if (list) list.push(wire);
      else byUser.set(e.recipientUser, [wire]);
    }
    const node = this.bus.nodeId;
    for (const [user, list] of byUser) {
      if (again) this.bus.publish(user, { k: 'entries', node, entries: list, again });
      else {
        const s = ++this.seq;
        if (this.unheardHook) this.unanswered[s % UNANSWERED_RING] = 1;
        this.bus.publish(user, { k: 'entries', node, entries: list, s }, this.unheardHook && this.reached);
      }
    }
  }

  /** The bus's `reached` for first copies: one function for every publish, so none is made per message. */
  private readonly reached = (msg: BusMessage, others: number): void => {
    // Only first copies pass this hook, and each carries its number.
    if (msg.k !== 'entries' || msg.s === undefined) return;
    if (others === 0) this.unheardHook?.(msg.entries);
    else if (others > 1) this.reachOf.set(msg.s, others);
    this.unanswered[msg.s % UNANSWERED_RING] = 0;
    const held = this.early?.get(msg.s);
    if (!held) return;
    this.early!.delete(msg.s);
    this.earlyCount -= held.length;
    for (const a of held) this.absent(a);
  };

  /**
   * An `absent` answer to one of this node's first copies. An entry is let
   * go once every node the copy reached has answered for it. A copy that
   * reached one node (the common case) is not remembered, so an answer
   * alone settles it. An answer that comes before the count waits for it.
   * (Should the count never come, or EARLY_MAX answers wait already, or a
   * copy 65,536 numbers later still await its own, the answer waits with
   * its entries for the write delay, or counts as from the only node
   * reached: at worst one write that an ack would have spared.)
   */
  absent(msg: Extract<BusMessage, { k: 'absent' }>): void {
    if (this.unanswered[msg.s % UNANSWERED_RING] === 1 && this.earlyCount < EARLY_MAX) {
      this.early ??= new Map();
      const held = this.early.get(msg.s);
      if (held) held.push(msg);
      else this.early.set(msg.s, [msg]);
      this.earlyCount++;
      return;
    }
    const reach = this.reachOf.get(msg.s) ?? 1;
    const free: EntryKey[] = [];
    for (const [recipientUser, recipientDevice, dedupKey] of msg.keys) {
      if (reach > 1) {
        const id = `${msg.s}\0${recipientUser}\0${recipientDevice}\0${dedupKey}`;
        const seen = (this.absences.get(id) ?? 0) + 1;
        if (seen < reach) {
          this.absences.set(id, seen);
          continue;
        }
        this.absences.delete(id);
      }
      free.push({ recipientUser, recipientDevice, dedupKey });
    }
    if (free.length > 0) this.unheardHook?.(free);
  }

  private pushLocal(user: string, frame: string, opts: PushOptions): number {
    const devices = this.local.devicesOf(user);
    if (!devices) return 0;
    let reached = 0;
    for (const target of devices) {
      if (target.deviceId === opts.except || (opts.device !== undefined && target.deviceId !== opts.device)) continue;
      if (!target.push(frame)) continue;
      reached++;
      if (opts.call) this.callHook?.(user, target.deviceId, opts.call);
    }
    return reached;
  }
}

export interface PushOptions {
  /** Only this device of the user. */
  device?: string | undefined;
  /** All the user's devices but this one. */
  except?: string | undefined;
  call?: CallSignal | undefined;
}
