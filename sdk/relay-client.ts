import type { ClientFrame } from '../src/protocol/client-frames.ts';
import type { ContactPresence, ErrorFrame, MessageFrame, ServerFrame, ServerFrameOf, ServerFrameType, SentAckFrame, StatusUpdateFrame } from '../src/protocol/server-frame-shapes.ts';
import { storedFrameTypes } from '../src/protocol/server-frame-shapes.ts';
import { DedupWindow } from './dedup-window.ts';
import { ClientStoppedError, RelayError, RequestTimeoutError } from './errors.ts';
import { Outbox, type StoredClientFrame } from './outbox.ts';
import { adviseOnClose, backoffDelay, defaultBackoff, retryDelay, type BackoffOptions } from './reconnect-policy.ts';
import { TypedEmitter, type Handler } from './typed-emitter.ts';
import { refreshDelay, tokenExpiresAt } from './token-expiry.ts';

/** What `registerPush` takes: the payload of a `push_register` frame. */
export type PushRegistration = Extract<ClientFrame, { type: 'push_register' }>['payload'];

/**
 * The relay's VAPID public key, for `pushManager.subscribe({ applicationServerKey })`.
 * `relayUrl` is the WebSocket URL the client connects to; undefined when
 * the relay sends no Web Push.
 */
export async function fetchVapidPublicKey(relayUrl: string): Promise<string | undefined> {
  const url = new URL(relayUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = '/push/vapid-public-key';
  url.search = '';
  const res = await fetch(url);
  return res.ok ? (await res.text()).trim() : undefined;
}

/** The part of the WebSocket API the client uses: the browser's `WebSocket` and the `ws` package both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

export interface RelayClientOptions {
  /** `ws://host:port/ws` or `wss://…`. */
  url: string;
  /** The access token, or a function asked for a fresh one before every connection attempt. */
  token: string | (() => string | Promise<string>);
  /** Defaults to the global `WebSocket` (browsers); pass the `ws` package's class in Node 20. */
  WebSocket?: WebSocketConstructor;
  /** How often to send `heartbeat` while connected. Default 25 s. */
  heartbeatMs?: number;
  /** A connection that has received nothing for heartbeatMs + this is treated as dead. Default 10 s. */
  heartbeatTimeoutMs?: number;
  /** How long a request (register, approve, devices list) waits for its answer. Default 15 s. */
  requestTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Injected for tests; default Math.random, Date.now and crypto.randomUUID. */
  random?: () => number;
  now?: () => number;
  newId?: () => string;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'ready' | 'waiting' | 'stopped';

/** Every server frame by its type, plus the client's own lifecycle events. */
export type ClientEvents = { [T in ServerFrameType]: ServerFrameOf<T> } & {
  state: { state: ConnectionState };
  connected: { attempt: number };
  /** The backlog stored while this device was away has been handled; live traffic follows. */
  caught_up: { handled: number };
  disconnected: { code: number; reason: string; reconnectInMs: number | null };
  stopped: { code: number; reason: string; why: string };
  /** A handler threw on a stored frame: it is not acked, so the relay delivers it again next connection. */
  handler_error: { frame: ServerFrame; error: unknown };
};

/** Stored frames always carry the `message_id` to ack. */
type StoredFrame = MessageFrame | StatusUpdateFrame | (ServerFrameOf<'device_approval_request'> & { message_id: string });

interface PendingRequest {
  frame: ClientFrame;
  match: (f: ServerFrame) => boolean;
  resolve: (f: ServerFrame) => void;
  reject: (e: Error) => void;
  resend: boolean;
  /** Unset while the request waits for a connection to be sent on. */
  timer: ReturnType<typeof setTimeout> | undefined;
}

const OPEN = 1;
const RETRYABLE_DEFAULT_MS = 1_000;
const ACK_BATCH = 500;

/**
 * A connection to the relay that survives the network: it reconnects with
 * backoff and full jitter as the close code advises, keeps stored sends
 * until the relay acknowledges them (resending the same frame and id after
 * a reconnect), hands every stored frame to the application once, in order,
 * and acknowledges it only after the application's handlers resolved.
 *
 * Guarantees to the application:
 * - a `send` promise resolves only when the relay has stored the message
 *   (or rejects with a final RelayError);
 * - a stored frame reaches the handlers at most once per client instance
 *   (a bounded dedup window), and at least once across connections, since
 *   it is acked only after the handlers resolved;
 * - `caught_up` fires after the backlog of each connection was handled.
 */
export class RelayClient {
  readonly events = new TypedEmitter<ClientEvents>();
  private readonly outbox = new Outbox();
  private readonly dedup = new DedupWindow();
  private readonly requests = new Map<string, PendingRequest>();
  private readonly opts: Required<Omit<RelayClientOptions, 'WebSocket'>> & { WebSocket: WebSocketConstructor };
  private ws: WebSocketLike | undefined;
  private generation = 0;
  private attempt = 0;
  private stateValue: ConnectionState = 'idle';
  private stopped = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private lastReceived = 0;
  /** Stored frames are handled one after another across connections, so a redelivery waits for the first copy. */
  private inbound: Promise<void> = Promise.resolve();
  private handledThisConnection = 0;
  /** The relay treats this connection as an approved device (it delivered, or said so). */
  private approvedHere = false;
  private approvedWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Ids to ack, by the sender they came from ('' when the frame names none): two senders may use one id. */
  private acks = new Map<string, string[]>();
  private ackCount = 0;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** The state chosen with setPresence: each connection starts `online` at the relay, so it is sent again on each. */
  private presenceStatus: 'online' | 'away' | 'busy' = 'online';

  constructor(options: RelayClientOptions) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new Error('no WebSocket implementation: pass the ws package as options.WebSocket');
    this.opts = {
      heartbeatMs: 25_000,
      heartbeatTimeoutMs: 10_000,
      requestTimeoutMs: 15_000,
      backoff: defaultBackoff,
      random: Math.random,
      now: Date.now,
      newId: () => crypto.randomUUID(),
      ...options,
      WebSocket: WS,
    };
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Stored sends not yet acknowledged by the relay. */
  get pendingSends(): number {
    return this.outbox.size;
  }

  on<K extends keyof ClientEvents>(name: K, handler: Handler<ClientEvents[K]>): () => void {
    return this.events.on(name, handler);
  }

  /** Starts connecting; reconnects until `close()` or a close code that forbids it. */
  connect(): void {
    if (this.stopped) throw new ClientStoppedError('closed');
    if (this.stateValue !== 'idle') return;
    void this.openSocket();
  }

  /** Resolves once the device is connected, approved and caught up. */
  ready(): Promise<void> {
    return this.reach(['ready']);
  }

  /** Closes for good: no reconnect; unacknowledged sends reject. */
  close(): void {
    this.stop(1000, 'closed by the application', 'closed');
    this.ws?.close(1000, 'bye');
  }

  newId(): string {
    return this.opts.newId();
  }

  /**
   * Sends ciphertexts to every device of `to` (one per device, exactly the
   * relay's device list, else `mismatched_devices`). Resolves on `sent_ack`.
   * The frame is kept and sent again with the same id after a reconnect.
   */
  send(to: string, messages: { device_id: string; ciphertext: string }[], opts: { id?: string; message_type?: string; group_id?: string; media_id?: string } = {}): Promise<SentAckFrame> {
    const { id = this.newId(), ...meta } = opts;
    return this.sendStored({ type: 'send', id, payload: { to, messages, ...meta } });
  }

  /**
   * One message to several users (a group): for each user, one ciphertext
   * per device, exactly as for `send`. One `sent_ack` once every device of
   * every user has it; a `mismatched_devices` answer names the users whose
   * device sets differ (`payload.mismatches`), and nothing was stored.
   * Kept and resent with its id after reconnects, like `send`.
   */
  sendGroup(
    groupId: string,
    recipients: { to: string; messages: { device_id: string; ciphertext: string }[] }[],
    opts: { id?: string; message_type?: string; media_id?: string } = {},
  ): Promise<SentAckFrame> {
    const { id = this.newId(), ...meta } = opts;
    return this.sendStored({ type: 'send', id, payload: { recipients, group_id: groupId, ...meta } });
  }

  /** Any stored frame (`send`, `media_key`, `sync_*`): kept until `sent_ack`, resent with its id after reconnects. */
  sendStored(frame: StoredClientFrame): Promise<SentAckFrame> {
    if (this.stopped) return Promise.reject(new ClientStoppedError('stopped'));
    const acked = this.outbox.add(frame);
    if (this.approvedHere) this.write(frame);
    return acked;
  }

  /** An ephemeral frame (typing, call_*): sent only if the device is connected and approved now; returns whether it was. */
  signal(frame: Extract<ClientFrame, { type: 'typing' | 'call_offer' | 'call_answer' | 'call_reject' | 'call_end' | 'ice_candidate' }>): boolean {
    if (!this.approvedHere) return false;
    this.write(frame);
    return true;
  }

  /**
   * Sends a control frame with a fresh id and resolves with the first frame
   * `match` accepts; rejects with the relay's `error` for that id or on
   * timeout. `when` says whether the frame may go before the device is
   * approved (`open`) or not (`approved`, the default). A request that is
   * safe to repeat (`resend`, e.g. a devices list) survives a dropped
   * connection: it is sent again on the next approved connection; any other
   * rejects. Handlers of stored frames may await requests and sends: they
   * go out as soon as the connection is approved, not only once caught up.
   */
  async request<T extends ServerFrame>(frame: ClientFrame, match: (f: ServerFrame) => f is T, opts: { when?: 'open' | 'approved'; resend?: boolean } = {}): Promise<T> {
    await ((opts.when ?? 'approved') === 'approved' ? this.approved() : this.opened());
    const id = frame.id ?? this.newId();
    return new Promise<T>((resolve, reject) => {
      const r: PendingRequest = { frame: { ...frame, id } as ClientFrame, match, resolve: resolve as (f: ServerFrame) => void, reject, resend: opts.resend ?? false, timer: undefined };
      this.requests.set(id, r);
      this.dispatch(id, r);
    });
  }

  private dispatch(id: string, r: PendingRequest): void {
    r.timer = setTimeout(() => {
      this.requests.delete(id);
      r.reject(new RequestTimeoutError(r.frame.type, this.opts.requestTimeoutMs));
    }, this.opts.requestTimeoutMs);
    this.write(r.frame);
  }

  /**
   * Registers this device's identity key. Resolves with `device_approved`
   * (the user's first device becomes primary at once) or with
   * `device_approval_pending`, whose `code` the user types on a primary
   * device. An already approved device gets RelayError `already_registered`.
   */
  register(identityKey: string, deviceName: string, deviceType: string): Promise<ServerFrameOf<'device_approved'> | ServerFrameOf<'device_approval_pending'>> {
    return this.request(
      { type: 'device_register', payload: { identity_key: identityKey, device_name: deviceName, device_type: deviceType } },
      (f: ServerFrame): f is ServerFrameOf<'device_approved'> | ServerFrameOf<'device_approval_pending'> => f.type === 'device_approved' || f.type === 'device_approval_pending',
      { when: 'open' },
    );
  }

  /**
   * Asks the relay to wake this device while it is offline (docs/push.md):
   * a browser's PushSubscription (`subscription.toJSON()`, subscribed with
   * the key from `fetchVapidPublicKey`), or for a native app a token the
   * operator's push service understands. Replaces any earlier target.
   * Rejects with RelayError `push_unavailable` or `push_endpoint_refused`.
   */
  registerPush(target: PushRegistration): Promise<ServerFrameOf<'push_registered'>> {
    return this.request({ type: 'push_register', payload: target }, (f: ServerFrame): f is ServerFrameOf<'push_registered'> => f.type === 'push_registered', { resend: true });
  }

  /** Stops wake-ups of this device. */
  async unregisterPush(): Promise<void> {
    await this.request({ type: 'push_unregister', payload: {} }, (f: ServerFrame): f is ServerFrameOf<'push_unregistered'> => f.type === 'push_unregistered', { resend: true });
  }

  /**
   * This device's state as the user's mutual contacts see it (docs/protocol.md,
   * Presence). Kept across reconnects: every new connection is set to it
   * again once approved.
   */
  setPresence(status: 'online' | 'away' | 'busy'): void {
    const changed = status !== this.presenceStatus;
    this.presenceStatus = status;
    if (changed && this.approvedHere) this.write({ type: 'presence', payload: { status } });
  }

  /** The mutual contacts online now, each with its status and live devices, wherever they are connected. */
  async onlineContacts(): Promise<ContactPresence[]> {
    const f = await this.request({ type: 'online_contacts', payload: {} }, (x: ServerFrame): x is ServerFrameOf<'online_contacts'> => x.type === 'online_contacts', { resend: true });
    return f.payload.contacts;
  }

  /** Sends a frame that has no answer beyond a possible `error`, once the connection is approved. */
  async post(frame: ClientFrame): Promise<void> {
    await this.approved();
    this.write(frame);
  }

  private approved(): Promise<void> {
    if (this.approvedHere) return Promise.resolve();
    if (this.stopped) return Promise.reject(new ClientStoppedError('stopped'));
    return new Promise((resolve, reject) => this.approvedWaiters.push({ resolve, reject }));
  }

  /** The relay delivers only to approved devices: the first such frame on a connection releases what waited for it. */
  private markApproved(): void {
    if (this.approvedHere) return;
    this.approvedHere = true;
    if (this.presenceStatus !== 'online') this.write({ type: 'presence', payload: { status: this.presenceStatus } });
    for (const f of this.outbox.frames()) this.write(f);
    for (const [id, r] of this.requests) if (r.timer === undefined) this.dispatch(id, r);
    for (const w of this.approvedWaiters.splice(0)) w.resolve();
  }

  private opened(): Promise<void> {
    return this.reach(['open', 'ready']);
  }

  /** Resolves once the connection is in one of `states`; rejects if the client stops first. */
  private reach(states: ConnectionState[]): Promise<void> {
    if (states.includes(this.stateValue)) return Promise.resolve();
    if (this.stopped) return Promise.reject(new ClientStoppedError('stopped'));
    return new Promise((resolve, reject) => {
      const off = this.events.on('state', ({ state }) => {
        if (states.includes(state)) resolve();
        else if (state === 'stopped') reject(new ClientStoppedError('stopped'));
        else return;
        off();
      });
    });
  }

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    void this.events.emit('state', { state }).catch(() => {});
  }

  private async openSocket(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    this.setState('connecting');
    let token: string;
    try {
      token = typeof this.opts.token === 'string' ? this.opts.token : await this.opts.token();
    } catch {
      this.scheduleReconnect(0);
      return;
    }
    if (this.stopped) return;
    const generation = ++this.generation;
    this.scheduleTokenRefresh(token, generation);
    const ws = new this.opts.WebSocket(this.opts.url, ['bearer', token]);
    this.ws = ws;
    ws.onopen = () => {
      this.lastReceived = this.opts.now();
      this.handledThisConnection = 0;
      this.setState('open');
      this.startHeartbeat(generation);
      void this.events.emit('connected', { attempt: this.attempt }).catch(() => {});
    };
    ws.onmessage = (ev) => {
      if (generation === this.generation && typeof ev.data === 'string') this.receive(ev.data, generation);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (generation === this.generation) this.closed(ev.code, ev.reason);
    };
  }

  /** A connection ended (or was given up on): fail its requests, then reconnect or stop as the code advises. */
  private closed(code: number, reason: string): void {
    this.ws = undefined;
    this.approvedHere = false;
    this.generation++;
    this.stopHeartbeat();
    clearTimeout(this.refreshTimer);
    this.flushAcksNow();
    for (const [id, r] of this.requests) {
      clearTimeout(r.timer);
      r.timer = undefined;
      if (r.resend && !this.stopped) continue;
      r.reject(new Error(`connection closed (${code}) before the answer`));
      this.requests.delete(id);
    }
    if (this.stopped) return;
    const advice = adviseOnClose(code);
    if (advice.action === 'stop' || (advice.action === 'refresh_token' && typeof this.opts.token === 'string')) {
      void this.events.emit('disconnected', { code, reason, reconnectInMs: null }).catch(() => {});
      this.stop(code, reason, advice.action === 'stop' ? advice.why : 'token expired and no token provider was given');
      return;
    }
    const delay = Math.max(advice.action === 'reconnect' ? advice.minDelayMs : 0, backoffDelay(this.attempt, this.opts.backoff, this.opts.random));
    this.attempt++;
    void this.events.emit('disconnected', { code, reason, reconnectInMs: delay }).catch(() => {});
    this.scheduleReconnect(delay);
  }

  private scheduleReconnect(delay: number): void {
    this.setState('waiting');
    this.reconnectTimer = setTimeout(() => void this.openSocket(), delay);
  }

  private stop(code: number, reason: string, why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    this.stopHeartbeat();
    this.outbox.rejectAll(new ClientStoppedError(why));
    for (const [id, r] of this.requests) {
      clearTimeout(r.timer);
      this.requests.delete(id);
      r.reject(new ClientStoppedError(why));
    }
    for (const w of this.approvedWaiters.splice(0)) w.reject(new ClientStoppedError(why));
    this.setState('stopped');
    void this.events.emit('stopped', { code, reason, why }).catch(() => {});
  }

  /**
   * With a token provider, renews the socket's token before its `exp`
   * (token-expiry.ts), and again before the renewed one expires. A refresh
   * the relay refuses, or one that cannot be fetched, changes nothing: the
   * socket closes with 4401 at `exp` and the client reconnects with a new
   * token as usual.
   */
  private scheduleTokenRefresh(token: string, generation: number): void {
    clearTimeout(this.refreshTimer);
    const provider = this.opts.token;
    const exp = tokenExpiresAt(token);
    if (typeof provider === 'string' || exp === undefined) return;
    this.refreshTimer = setTimeout(
      () => {
        void (async () => {
          let next: string;
          try {
            next = await provider();
          } catch {
            return;
          }
          if (generation !== this.generation || tokenExpiresAt(next) === undefined) return;
          const reply = this.request({ type: 'token_refresh', payload: { token: next } }, (f): f is ServerFrameOf<'token_refreshed'> => f.type === 'token_refreshed', { when: 'open' });
          if (
            (await reply.then(
              () => true,
              () => false,
            )) &&
            generation === this.generation
          )
            this.scheduleTokenRefresh(next, generation);
        })();
      },
      refreshDelay(exp, this.opts.now()),
    );
  }

  private startHeartbeat(generation: number): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => {
      if (generation !== this.generation) return;
      if (this.opts.now() - this.lastReceived > this.opts.heartbeatMs + this.opts.heartbeatTimeoutMs) {
        // Nothing heard, not even heartbeat_ack: the path is dead. Give up on
        // this socket at once rather than wait for TCP to notice.
        const ws = this.ws;
        this.closed(4000, 'heartbeat timeout');
        ws?.close(4000, 'heartbeat timeout');
        return;
      }
      this.write({ type: 'heartbeat' });
    }, this.opts.heartbeatMs);
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private write(frame: ClientFrame): void {
    if (this.ws?.readyState === OPEN) this.ws.send(JSON.stringify(frame));
  }

  private receive(text: string, generation: number): void {
    this.lastReceived = this.opts.now();
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') return;

    if (frame.type === 'sent_ack') this.outbox.resolve(frame);
    else if (frame.type === 'error') this.failed(frame);
    for (const [id, r] of this.requests) {
      if (!r.match(frame)) continue;
      clearTimeout(r.timer);
      this.requests.delete(id);
      r.resolve(frame);
    }

    const stored = (storedFrameTypes as readonly string[]).includes(frame.type);
    if (stored || frame.type === 'queue_empty' || frame.type === 'device_approved') this.markApproved();
    if (stored) {
      const f = frame as StoredFrame;
      this.inbound = this.inbound.then(() => this.handleStored(f, generation));
    } else if (frame.type === 'queue_empty') {
      const f = frame;
      this.inbound = this.inbound.then(() => this.caughtUp(f, generation));
    } else {
      this.emitSafely(frame);
    }
  }

  private failed(frame: ErrorFrame): void {
    const id = frame.id;
    if (id === undefined) return;
    const err = new RelayError(frame);
    const request = this.requests.get(id);
    if (request) {
      clearTimeout(request.timer);
      this.requests.delete(id);
      request.reject(err);
    }
    if (!this.outbox.has(id)) return;
    if (!err.retryable) {
      this.outbox.reject(id, err);
      return;
    }
    // Stored nothing, or could not say: the same frame again later is safe, the id dedupes it.
    const asked = frame.payload.retry_after !== undefined ? frame.payload.retry_after * 1000 : RETRYABLE_DEFAULT_MS;
    const wait = retryDelay(asked, this.outbox.refused(id), this.opts.backoff, this.opts.random);
    setTimeout(() => {
      const pending = this.outbox.frame(id);
      if (pending && this.stateValue === 'ready') this.write(pending);
    }, wait);
  }

  private async handleStored(frame: StoredFrame, generation: number): Promise<void> {
    const key = dedupKey(frame);
    if (!this.dedup.has(key)) {
      try {
        await this.events.emit(frame.type, frame as never);
      } catch (error) {
        await this.events.emit('handler_error', { frame, error }).catch(() => {});
        return;
      }
      this.dedup.add(key);
      this.handledThisConnection++;
    }
    this.ack(frame.message_id, (frame as { sender_id?: string }).sender_id ?? '', generation);
  }

  private async caughtUp(frame: ServerFrameOf<'queue_empty'>, generation: number): Promise<void> {
    if (generation !== this.generation) return;
    this.flushAcksNow();
    this.attempt = 0;
    this.setState('ready');
    this.emitSafely(frame);
    await this.events.emit('caught_up', { handled: this.handledThisConnection }).catch(() => {});
  }

  private emitSafely(frame: ServerFrame): void {
    void this.events.emit(frame.type, frame as never).catch((error: unknown) => this.events.emit('handler_error', { frame, error }).catch(() => {}));
  }

  /** Acks are batched per event-loop turn; an ack for an older connection is dropped (the relay redelivers). */
  private ack(messageId: string, sender: string, generation: number): void {
    if (generation !== this.generation) return;
    const ids = this.acks.get(sender);
    if (ids) ids.push(messageId);
    else this.acks.set(sender, [messageId]);
    if (++this.ackCount >= ACK_BATCH) this.flushAcksNow();
    else this.ackTimer ??= setTimeout(() => this.flushAcksNow(), 0);
  }

  private flushAcksNow(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    for (const [sender, ids] of this.acks) {
      for (let i = 0; i < ids.length; i += ACK_BATCH) {
        const message_ids = ids.slice(i, i + ACK_BATCH);
        this.write({ type: 'delivery_ack', payload: sender === '' ? { message_ids } : { message_ids, sender_id: sender } });
      }
    }
    this.acks.clear();
    this.ackCount = 0;
  }
}

/** What makes two deliveries of a stored frame the same one. */
export function dedupKey(frame: StoredFrame): string {
  if (frame.type === 'status_update') return `status_update|${frame.message_id}|${frame.payload.recipient_id}|${frame.payload.recipient_device}|${frame.payload.status}`;
  if (frame.type === 'device_approval_request') return `device_approval_request|${frame.message_id}`;
  return `${frame.type}|${frame.sender_id}|${frame.sender_device}|${frame.message_id}`;
}
