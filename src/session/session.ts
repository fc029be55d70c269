import type { DeviceStatus } from '../db/schema.ts';
import type { DeliveryTarget } from '../delivery/delivery-target.ts';
import type { SessionDelivery } from '../delivery/delivery-service.ts';
import type { QueueEntry } from '../delivery/queue-entry.ts';
import { RecentSends } from '../delivery/recent-sends.ts';
import type { DeviceBuckets } from '../limits/session-limits.ts';
import { noStrikes, type StrikeState } from '../limits/strikes.ts';
import { CloseCode, closeReason } from '../protocol/close-codes.ts';
import { encodeFrame } from '../protocol/server-frames.ts';
import { countFrameOut, storedFramesOut } from '../metrics/frames-out.ts';
import type { PresenceState } from '../presence/presence.ts';
import type { Logger } from '../util/logger.ts';
import type { Connection } from './connection.ts';
import type { Expiring } from './expiry-wheel.ts';
import { RenewingMap, RenewingSet } from '../util/renewing-collections.ts';

/** Another node's first copies a session may pass over at once (passOver); past that the device is dropped (1013) and reads its queue on reconnect. */
const PASSED_OVER_MAX = 10_000;
/** How long a passed-over entry is awaited (its origin may have died before the commit); past that it no longer holds first copies back. */
const PASSED_OVER_TTL_MS = 30_000;

/** A copy of another node's entry published before its commit: it may not be in the database yet. */
const isFirstCopy = (e: QueueEntry): boolean => e.origin !== undefined && !e.storedCopy;

export interface SessionDeps {
  /** Where acks go, and the backlog comes from (delivery-service.ts). */
  delivery: SessionDelivery;
  log: Logger;
  now: () => number;
  inflightMax: number;
  /** Bytes of frames in flight (and held during a drain) above which the window counts as full, whatever their number. */
  inflightMaxBytes: number;
  drainPageSize: number;
  /** Bytes buffered for this socket above which the session stops pushing and waits for the drain event. */
  bufferedHighWater: number;
  /** How long the socket may stay backed up before the device is dropped (close 1013); its messages stay queued. */
  slowConsumerMs: number;
  /** Whether the bus carries the user's topic to this node yet (Bus.listening). */
  listening: (user: string) => true | Promise<void>;
}

/**
 * One connected device. It owns the delivery order for that device:
 *
 * - On connect it is `draining`: it sends the stored backlog in order, then
 *   the entries that arrived meanwhile, then `queue_empty`, and goes `live`.
 * - `live`: new entries are sent as they arrive.
 * - Every sent entry stays in flight until the device acks it; only then is
 *   it removed from the queue. At most `inflightMax` are in flight, and
 *   frames of at most `inflightMaxBytes` in all: past
 *   that, or when the socket is backed up, the session goes back to
 *   draining and reads from the queue once the device catches up, so a slow
 *   device costs bounded memory and loses nothing.
 *
 * Frames from the device are handled one at a time, in order (`run`), which
 * keeps per-device order through handlers that await the database.
 */
export class Session implements DeliveryTarget, Expiring {
  private mode: 'draining' | 'live' = 'draining';
  private held: QueueEntry[] = [];
  private heldBytes = 0;
  private heldOverflow = false;
  private drainRunning = false;
  /** Set when a drain is asked for while one runs: the running one reads the queue again before going live. */
  private readAgain = false;
  private caughtUp = false;
  /** Highest queue seq delivered from the backlog; later drains resume there. */
  private cursor = '0';
  /** Entries sent and not yet acked, by message id, and their dedup keys. Made on the first delivery and dropped when empty: an idle device holds neither. */
  private inflight: RenewingMap<string, QueueEntry[]> | undefined;
  private inflightKeys: RenewingSet<string> | undefined;
  private inflightCount = 0;
  /** The frames' length in flight, in UTF-16 units: a bound on the bytes they pin, not a byte count. */
  private inflightBytes = 0;
  /** Set when the in-flight window fills; cleared once acks free half of it, so a full window is not reopened one ack at a time. */
  private windowFull = false;
  private roomWaiters: (() => void)[] = [];
  /** Dedup keys of other nodes' first copies this session let go, and when (passOver). */
  private passedOver: Map<string, number> | undefined;
  /** Resolved on close: a drain waiting for the bus stops waiting. */
  private closeWaiters: (() => void)[] | undefined;
  private slowTimer: NodeJS.Timeout | undefined;
  /** The tail of the frame handlers' chain; none while no handler is queued. */
  private inbox: Promise<void> | undefined;
  private inboxDepth = 0;
  /** Garbage frames counted by the dispatcher. */
  strikes: StrikeState = noStrikes;
  /** Rate-limited frames counted by the dispatcher (too many closes the socket with 4429). */
  rateStrikes: StrikeState = noStrikes;
  /** Rate budgets, made on the first frame so that idle sockets cost nothing, and dropped once refilled when the device answers a ping (dispatch.ts, onPong). */
  buckets: DeviceBuckets | undefined;
  closed = false;
  /** The state this device last set (`presence` frame); written again with its lease at each confirm. */
  presenceState: PresenceState = 'online';
  /** The type this device registered with, read once for presence; undefined until read. */
  deviceType: string | null | undefined;
  /** This device's prefix of recent-sends keys (RecentSends.prefix). */
  readonly sendKeyPrefix: string;
  private childLog: Logger | undefined;

  constructor(
    readonly userId: string,
    readonly deviceId: string,
    /** When this socket's token expires (epoch ms): the expiry wheel closes it with 4401 then; token_refresh moves it. */
    public expiresAt: number,
    /** Only an approved device sends and receives; the approval flow moves it forward. */
    public status: DeviceStatus,
    /** Where the device connected from, shown to the primary when it asks for approval. */
    readonly client: { ip: string; userAgent: string },
    /** When this socket opened (epoch ms): of two sockets for one device, the later one wins. */
    readonly connectedAt: number,
    private readonly conn: Connection,
    private readonly deps: SessionDeps,
  ) {
    this.sendKeyPrefix = RecentSends.prefix(userId, deviceId);
  }

  /** This connection's logger: every line carries the user and device. Made on first use, since most connections never log. */
  get log(): Logger {
    return (this.childLog ??= this.deps.log.child({ user: this.userId, device: this.deviceId }));
  }

  get isApproved(): boolean {
    return this.status === 'approved';
  }

  /** The queue position up to which this connection has read its backlog (a resync probes after it). */
  get backlogCursor(): string {
    return this.cursor;
  }

  // ---- delivery -------------------------------------------------------

  offer(entry: QueueEntry): void {
    if (this.closed || !this.isApproved || this.inflightKeys?.has(entry.dedupKey)) return;
    if (this.passedOver !== undefined && isFirstCopy(entry) && this.stillPassingOver()) return this.passOver(entry);
    if (this.mode === 'draining') return this.hold(entry);
    if (!this.hasRoom()) {
      // An entry of this node is in the writer or the database already: the drain picks it up.
      // Another node's is in neither here, so it waits behind the drain (the drain has begun, so it keeps it).
      void this.drain();
      if (entry.origin !== undefined) this.hold(entry);
      return;
    }
    this.deliver(entry);
  }

  push(frame: string): boolean {
    if (this.closed || !this.isApproved || this.backedUp()) return false;
    countFrameOut(frame);
    return this.conn.send(frame) !== 'dropped';
  }

  /** Sends a reply to this device (acks, errors); replies are small and never dropped here. */
  reply(frame: string): void {
    if (this.closed) return;
    countFrameOut(frame);
    this.conn.send(frame);
  }

  /**
   * Removes acked ids from flight and hands them to the delivery service
   * (this node's writer or the entry's own node); returns the entries acked.
   * With `sender`, only that user's frames under those ids: two senders
   * may pick the same id, and an ack for one must not drop the other.
   */
  ack(messageIds: readonly string[], sender?: string): QueueEntry[] {
    const acked: QueueEntry[] = [];
    const inflight = this.inflight;
    const keys = this.inflightKeys;
    // Both exist from the first delivery until the window empties.
    if (!inflight || !keys) return acked;
    for (const id of messageIds) {
      const all = inflight.get(id);
      if (!all) continue;
      let entries = all;
      if (sender === undefined) inflight.delete(id);
      else {
        entries = all.filter((e) => e.senderUser === sender);
        const rest = all.filter((e) => e.senderUser !== sender);
        if (rest.length === 0) inflight.delete(id);
        else inflight.set(id, rest);
      }
      for (const e of entries) {
        keys.delete(e.dedupKey);
        this.inflightCount--;
        this.inflightBytes -= e.frame.length;
        this.deps.delivery.ack(e);
        acked.push(e);
      }
    }
    if (this.inflightCount <= this.deps.inflightMax / 2 && this.inflightBytes <= this.deps.inflightMaxBytes / 2) this.windowFull = false;
    if (this.inflightCount === 0) {
      this.inflight = this.inflightKeys = undefined;
      this.inflightBytes = 0;
    }
    if (acked.length > 0) this.wakeIfRoom();
    return acked;
  }

  /** Whether a frame from `sender` under this id was delivered to this device and is not acked yet. */
  holds(messageId: string, sender: string): boolean {
    return this.inflight?.get(messageId)?.some((e) => e.senderUser === sender) ?? false;
  }

  /**
   * Starts the backlog drain: the stored queue after the cursor, then what
   * arrived meanwhile, then live. Safe to call while one runs: the running
   * drain then reads the queue once more before it goes live, so that an
   * entry the bus lost is sent before anything that arrived after it.
   * `readStored` false skips the first read, for a resync whose probe found
   * nothing after the cursor (resumeLive).
   */
  async drain(readStored = true): Promise<void> {
    this.mode = 'draining';
    if (this.drainRunning) {
      if (readStored) this.readAgain = true;
      return;
    }
    this.drainRunning = true;
    try {
      // What a hold forgot (it overflowed) is read back from the queue, whatever the probe said.
      let read = readStored || this.heldOverflow;
      do {
        this.heldOverflow = false;
        this.readAgain = false;
        // This node's entries not committed yet, then what other nodes sent while nothing was read: those
        // are in neither the writer nor, maybe, the database yet, and dropping them would let later ones pass.
        const remote = this.held.filter((e) => e.origin !== undefined);
        this.held = [...this.deps.delivery.pendingFor(this.userId, this.deviceId), ...remote];
        this.heldBytes = remote.reduce((n, e) => n + e.frame.length, 0);
        await this.waitForRoom();
        if (read) await this.drainStored();
        read = true;
        if (this.closed) return;
        // Entries that arrived during the drain, and those arriving while they are sent: the switch
        // to live happens only once `held` is empty, with no await between that check and the switch.
        while (!this.heldOverflow && !this.readAgain && this.held.length > 0) {
          const held = this.held;
          this.held = [];
          this.heldBytes = 0;
          await this.deliverPaced(held.filter((e) => e.state !== 'acked' && e.state !== 'failed'));
          if (this.closed) return;
        }
        if (!this.heldOverflow && !this.readAgain && !this.closed) await this.untilListening();
      } while ((this.heldOverflow || this.readAgain) && !this.closed);
      this.mode = 'live';
      if (!this.caughtUp) {
        this.caughtUp = true;
        this.reply(encodeFrame('queue_empty', new Date(this.deps.now()).toISOString(), {}));
      }
    } catch (err) {
      // The backlog stays in the database; the device reconnects and tries again.
      this.log.warn('backlog drain failed', { err });
      this.close(CloseCode.tryAgainLater, 'backlog unavailable');
    } finally {
      this.drainRunning = false;
    }
  }

  /**
   * Going live needs the bus to carry this user's topic here. Until Redis
   * confirms the subscription, a message another node publishes passes this
   * node by (it is written to the queue, unheard), and a later one sent from
   * this node would reach the device first. So the drain waits, holding
   * what arrives, and once the subscription holds it reads the queue again
   * (readAgain): whatever was committed before is in the queue, whatever is
   * committed after comes over the bus. No timeout of its own: the bus asks
   * again until Redis answers (each ask has Redis's command deadline), and a
   * close ends the wait; meanwhile the backlog read so far has been sent.
   */
  private async untilListening(): Promise<void> {
    const listening = this.deps.listening(this.userId);
    if (listening === true) return;
    await Promise.race([listening, new Promise<void>((resolve) => (this.closeWaiters ??= []).push(resolve))]);
    this.readAgain = true;
  }

  /**
   * The bus may have lost entries for this device (backlog-resync.ts):
   * what arrives from now on is held until the resync has looked at the
   * queue, and then goes out after what the queue holds.
   */
  holdForResync(): void {
    if (!this.closed && this.isApproved) this.mode = 'draining';
  }

  /** The resync found nothing after the cursor: send what was held, then go live, with no read. */
  resumeLive(): void {
    if (this.mode === 'draining' && !this.drainRunning && !this.closed) void this.drain(false);
  }

  /** The token expired (expiry-wheel.ts). */
  expire(): void {
    this.close(CloseCode.tokenExpired);
  }

  /** Closes the socket; the transport's close handler then calls onClose. */
  close(code: CloseCode, reason: string = closeReason[code]): void {
    if (!this.closed) this.conn.close(code, reason);
  }

  onSocketDrain(): void {
    this.wakeIfRoom();
  }

  onClose(): void {
    this.closed = true;
    clearTimeout(this.slowTimer);
    this.passedOver = undefined;
    this.held = [];
    this.heldBytes = 0;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
    const closing = this.closeWaiters ?? [];
    this.closeWaiters = undefined;
    for (const w of closing) w();
  }

  get inflightSize(): number {
    return this.inflightCount;
  }

  // ---- inbound frames ---------------------------------------------------

  /**
   * Runs a frame handler after the previous ones; returns false when too
   * many are waiting. With none waiting it runs at once, and only a handler
   * that returns a promise (it awaits the database) starts a chain for the
   * frames behind it: most frames cost no promise at all. `task` must not
   * throw (dispatch's runHandler catches).
   */
  run(task: () => Promise<void> | void, maxDepth: number): boolean {
    if (this.inbox === undefined) {
      const pending = task();
      if (pending) this.chain(pending);
      return true;
    }
    if (this.inboxDepth >= maxDepth) return false;
    this.chain(this.inbox.then(task));
    return true;
  }

  /** Resolves once every frame handler queued so far has finished; it never rejects (shutdown waits on it). */
  handlersDone(): Promise<void> {
    return this.inbox ?? Promise.resolve();
  }

  // ---- internals --------------------------------------------------------

  private chain(pending: Promise<void>): void {
    this.inboxDepth++;
    this.inbox = pending
      .catch((err: unknown) => this.log.error('frame handler failed', { err }))
      .finally(() => {
        // The last queued handler is done: the chain can go.
        if (--this.inboxDepth === 0) this.inbox = undefined;
      });
  }

  private deliver(e: QueueEntry): void {
    const inflight = (this.inflight ??= new RenewingMap());
    const list = inflight.get(e.messageId);
    if (list) list.push(e);
    else inflight.set(e.messageId, [e]);
    (this.inflightKeys ??= new RenewingSet()).add(e.dedupKey);
    this.inflightBytes += e.frame.length;
    if (++this.inflightCount >= this.deps.inflightMax || this.inflightBytes >= this.deps.inflightMaxBytes) this.windowFull = true;
    storedFramesOut[e.kind]++;
    if (this.passedOver?.delete(e.dedupKey) && this.passedOver.size === 0) this.passedOver = undefined;
    this.conn.send(e.frame);
  }

  /**
   * Lets go of another node's first copy (no room to hold it). It may not
   * be in the database yet, so the next read of the queue can miss it,
   * while a later first copy from the same sender reaches the device: an
   * order break. So once one is let go, every first copy is, until each
   * of them has been delivered: its origin writes it (no ack comes) and
   * publishes it again at the commit, and those copies, like the queue,
   * come in commit order. Meanwhile the device gets its messages a write
   * delay later, nothing more. An entry acked here lately is a duplicate,
   * not awaited; one not seen within PASSED_OVER_TTL_MS (its node died
   * before the commit, and its sender never sent it again) is given up.
   */
  private passOver(e: QueueEntry): void {
    if (this.deps.delivery.ackedHere(e)) return;
    const m = (this.passedOver ??= new Map());
    if (m.has(e.dedupKey)) return;
    if (m.size >= PASSED_OVER_MAX) return this.close(CloseCode.tryAgainLater, 'slow consumer');
    m.set(e.dedupKey, this.deps.now());
  }

  /** Whether passed-over entries are still awaited, after giving up those awaited too long (oldest first, in the map's order). */
  private stillPassingOver(): boolean {
    const m = this.passedOver!;
    const cutoff = this.deps.now() - PASSED_OVER_TTL_MS;
    for (const [key, at] of m) {
      if (at > cutoff) break;
      m.delete(key);
    }
    if (m.size > 0) return true;
    this.passedOver = undefined;
    return false;
  }

  private hold(entry: QueueEntry): void {
    if (this.heldOverflow) {
      if (isFirstCopy(entry)) this.passOver(entry);
      return;
    }
    // By bytes only once something is held: one frame larger than the bound still goes through.
    const tooManyBytes = this.held.length > 0 && this.heldBytes + entry.frame.length > this.deps.inflightMaxBytes;
    if (this.held.length >= this.deps.inflightMax || tooManyBytes) {
      // Too much arrived during the drain: forget it and read it from the queue on the next pass.
      this.heldOverflow = true;
      for (const e of this.held) if (isFirstCopy(e)) this.passOver(e);
      if (isFirstCopy(entry)) this.passOver(entry);
      this.held = [];
      this.heldBytes = 0;
      return;
    }
    this.held.push(entry);
    this.heldBytes += entry.frame.length;
  }

  private async drainStored(): Promise<void> {
    for (;;) {
      const page = await this.deps.delivery.readBacklog(this.userId, this.deviceId, this.cursor, this.deps.drainPageSize);
      if (this.closed) return;
      await this.deliverPaced(page.entries);
      if (this.closed) return;
      if (page.lastSeq !== '') this.cursor = page.lastSeq;
      if (!page.full) return;
    }
  }

  /**
   * Sends entries in order, pausing whenever the in-flight window is full or
   * the socket is backed up: a backlog page can be far larger than what a
   * socket may buffer, and sending it at once would make uWebSockets.js drop
   * the connection at its backpressure limit.
   */
  private async deliverPaced(entries: readonly QueueEntry[]): Promise<void> {
    for (const e of entries) {
      if (!this.hasRoom()) await this.waitForRoom();
      if (this.closed) return;
      if (!this.inflightKeys?.has(e.dedupKey)) this.deliver(e);
    }
  }

  /**
   * The window is open and the socket below its high-water mark. Each
   * condition reopens on its own: a drain paused only by the socket resumes
   * as soon as the socket drains, without waiting for acks.
   */
  private hasRoom(): boolean {
    return !this.windowFull && !this.backedUp();
  }

  /**
   * Resumes when there is room again (see hasRoom), or on close. A socket
   * that stays backed up (the device reads slower than it is written to)
   * for slowConsumerMs is closed: holding more for it would only grow
   * memory, and its queue waits in the database.
   */
  private waitForRoom(): Promise<void> {
    if (this.closed || this.hasRoom()) return Promise.resolve();
    if (this.backedUp() && !this.slowTimer) {
      this.slowTimer = setTimeout(() => {
        this.slowTimer = undefined;
        if (this.backedUp()) this.close(CloseCode.tryAgainLater, 'slow consumer');
      }, this.deps.slowConsumerMs);
      this.slowTimer.unref();
    }
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** The socket holds more unsent bytes than the high-water mark: the device reads slower than it is written to. */
  private backedUp(): boolean {
    return this.conn.bufferedAmount() > this.deps.bufferedHighWater;
  }

  private wakeIfRoom(): void {
    if (this.roomWaiters.length === 0) return;
    if (this.hasRoom()) {
      clearTimeout(this.slowTimer);
      this.slowTimer = undefined;
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const w of waiters) w();
    }
  }
}
