import { isServiceUnavailable } from '../util/service-errors.ts';
import { TimeoutError } from '../util/with-timeout.ts';
import { bucketsAtRest, chargeInbound, chargeType, isStoredType, newBuckets } from '../limits/session-limits.ts';
import { addStrike } from '../limits/strikes.ts';
import { openBeforeApproval, type ClientFrame, type ClientFrameType, type FrameOf } from '../protocol/client-frames.ts';
import { CloseCode } from '../protocol/close-codes.ts';
import { decodeClientFrame } from '../protocol/codec.ts';
import type { ErrorCode } from '../protocol/error-codes.ts';
import { peekFrame } from '../protocol/peek-frame.ts';
import { encodeError, encodeFrame } from '../protocol/server-frames.ts';
import { handleCall } from './handlers/call.ts';
import { handleContactAdd, handleContactRemove } from './handlers/contacts.ts';
import { handleApprove, handleDeny, handleDevicesList, handleListSign, handleRegister, handleRevoke } from './handlers/devices.ts';
import { handleOnlineContacts, handlePresence } from './handlers/presence.ts';
import { handlePushRegister, handlePushUnregister } from './handlers/push.ts';
import { handleDeliveryAck, handleReadReceipt } from './handlers/receipts.ts';
import { handleSend } from './handlers/send.ts';
import { sendKey } from './handlers/store-and-route.ts';
import { handleSync } from './handlers/sync.ts';
import { handleTokenRefresh } from './handlers/token-refresh.ts';
import { handleTyping } from './handlers/typing.ts';
import type { Session } from './session.ts';
import { isoNow, type Services } from './services.ts';

type Handler<T extends ClientFrameType> = (s: Session, frame: FrameOf<T>, svc: Services) => Promise<void> | void;

/** One handler per client frame type; the compiler checks that none is missing. */
const handlers: { [T in ClientFrameType]: Handler<T> } = {
  send: handleSend,
  media_key: handleSend,
  delivery_ack: handleDeliveryAck,
  read_receipt: handleReadReceipt,
  sync_request: handleSync,
  sync_data: handleSync,
  sync_ack: handleSync,
  typing: handleTyping,
  call_offer: handleCall,
  call_answer: handleCall,
  call_reject: handleCall,
  call_end: handleCall,
  ice_candidate: handleCall,
  heartbeat: (s, _f, svc) => s.reply(encodeFrame('heartbeat_ack', isoNow(svc), {})),
  ping: (s, _f, svc) => s.reply(encodeFrame('pong', isoNow(svc), {})),
  pong: () => {},
  token_refresh: handleTokenRefresh,
  contact_add: handleContactAdd,
  contact_remove: handleContactRemove,
  presence: handlePresence,
  online_contacts: handleOnlineContacts,
  device_register: handleRegister,
  device_approve: handleApprove,
  device_deny: handleDeny,
  device_revoke: handleRevoke,
  devices_list: handleDevicesList,
  device_list_sign: handleListSign,
  push_register: handlePushRegister,
  push_unregister: handlePushUnregister,
};

/** Garbage frames tolerated per minute before the socket is closed with 1008. */
const GARBAGE_LIMIT = 10;
const GARBAGE_WINDOW_MS = 60_000;
/** Frames a device may have waiting behind a slow handler before new ones are refused. */
const INBOX_MAX = 256;

/**
 * Entry point for every text frame: decode, answer garbage with an error
 * (closing after repeated garbage), and queue the typed frame to its
 * handler. The single catch turns any handler failure into an error frame:
 * a bad frame or a failing dependency never takes the process down.
 */
export function dispatch(s: Session, text: string, svc: Services, bytes = text.length): void {
  const now = svc.now();
  if (now >= s.expiresAt) {
    s.reply(encodeError('forbidden', { message: 'token expired', timestamp: isoNow(svc) }));
    s.close(CloseCode.tokenExpired);
    return;
  }
  s.buckets ??= newBuckets(svc.rates, now);
  const inbound = chargeInbound(s.buckets, svc.rates, bytes, now);
  if (!inbound.ok) return rateLimited(s, svc, undefined, inbound.retryAfterMs);
  // While the node sheds, a stored frame whose head names its type and id is charged and
  // refused or admitted before it is decoded: a refusal then costs no parse (peek-frame.ts).
  const head = svc.overload.shedding ? peekFrame(text) : undefined;
  const early = head && isStoredType(head.type) ? head : undefined;
  if (early && !chargeAndAdmit(s, svc, early.type as ClientFrameType, early.id, now)) return;
  const decoded = decodeClientFrame(text);
  if (!decoded.ok) return garbage(s, svc, decoded.code, decoded.message, decoded.id ?? early?.id);
  const frame = decoded.frame;
  svc.counters.framesIn[frame.type]!++;
  if (early) {
    // Charged and admitted by its head: a body that names another type or id (JSON lets a key repeat, the last one wins) is garbage.
    if (frame.type !== early.type || frame.id !== early.id) return garbage(s, svc, 'invalid_frame', 'type or id given twice', early.id);
  } else if (!chargeAndAdmit(s, svc, frame.type, frame.id, now)) return;
  if (!s.isApproved && !openBeforeApproval.has(frame.type)) {
    s.reply(encodeError('device_not_approved', { id: frame.id, timestamp: isoNow(svc) }));
    return;
  }
  const accepted = s.run(() => runHandler(s, frame, svc), INBOX_MAX);
  if (!accepted) overloaded(s, svc, frame.id);
}

/**
 * The device answered a ping. uWebSockets.js pings only a socket that has
 * sent nothing for most of IDLE_TIMEOUT_SECONDS, so its rate budgets have
 * usually refilled by then; full ones are dropped until its next frame,
 * which makes them again as they were (`newBuckets`). Quiet devices, most
 * of a node's connections, then hold no limit state.
 */
export function onPong(s: Session, svc: Services): void {
  if (s.buckets && bucketsAtRest(s.buckets, svc.rates, svc.now())) s.buckets = undefined;
}

/**
 * Charges a frame's type to the device's budgets and, while the node sheds,
 * refuses a share of new stored frames (acks and the rest, which lighten its
 * load, go through). False when it has answered the frame instead.
 */
function chargeAndAdmit(s: Session, svc: Services, type: ClientFrameType, id: string | undefined, now: number): boolean {
  const typed = chargeType(s.buckets!, svc.rates, type, now);
  if (!typed.ok) {
    rateLimited(s, svc, id, typed.retryAfterMs);
    return false;
  }
  if (isStoredType(type) && svc.overload.shedding && !admitStored(s, id, svc)) {
    overloaded(s, svc, id);
    return false;
  }
  return true;
}

/**
 * Whether a shedding node takes this stored frame: always when this device
 * sent its id before (answering from the recent sends costs less than a
 * refusal, and spares the client another retry of a message stored
 * already), otherwise when the gate's share lets it through.
 */
const admitStored = (s: Session, id: string | undefined, svc: Services): boolean => (id !== undefined && svc.recent.known(sendKey(s, id))) || svc.overload.admit();

/** Answers a frame that is not a valid client frame; a device that keeps sending garbage is closed with 1008. */
function garbage(s: Session, svc: Services, code: ErrorCode, message: string, id: string | undefined): void {
  svc.counters.garbageIn++;
  s.reply(encodeError(code, { id, message, timestamp: isoNow(svc) }));
  const { state, exceeded } = addStrike(s.strikes, svc.now(), GARBAGE_WINDOW_MS, GARBAGE_LIMIT);
  s.strikes = state;
  if (exceeded) s.close(CloseCode.policy);
}

/** Answers a frame the node cannot take now; the client sends it again, unchanged, after `retry_after`. */
function overloaded(s: Session, svc: Services, id: string | undefined): void {
  s.reply(encodeError('overloaded', { id, timestamp: isoNow(svc), extra: { retry_after: 1 } }));
}

/** Answers a frame over budget; a device that keeps going past RATE_LIMIT_STRIKES a minute is closed with 4429. */
function rateLimited(s: Session, svc: Services, id: string | undefined, retryAfterMs: number): void {
  s.reply(encodeError('rate_limited', { id, timestamp: isoNow(svc), extra: { retry_after: Math.max(1, Math.ceil(retryAfterMs / 1000)) } }));
  const { state, exceeded } = addStrike(s.rateStrikes, svc.now(), 60_000, svc.config.RATE_LIMIT_STRIKES);
  s.rateStrikes = state;
  if (exceeded) s.close(CloseCode.rateLimited);
}

/** Runs the frame's handler; whether it throws or its promise rejects, the device gets an error frame and nothing escapes. */
function runHandler(s: Session, frame: ClientFrame, svc: Services): Promise<void> | void {
  if (s.closed) return;
  try {
    const pending = (handlers[frame.type] as Handler<ClientFrameType>)(s, frame, svc);
    if (pending) return pending.catch((err: unknown) => handlerFailed(s, frame, svc, err));
  } catch (err) {
    handlerFailed(s, frame, svc, err);
  }
}

function handlerFailed(s: Session, frame: ClientFrame, svc: Services, err: unknown): void {
  const slow = err instanceof TimeoutError;
  const down = !slow && isServiceUnavailable(err);
  if (slow || down) s.log.warn('handler failed: database or Redis slow or unreachable', { err, type: frame.type });
  else s.log.error('handler failed', { err, type: frame.type });
  const code = slow ? 'overloaded' : down ? 'unavailable' : 'internal_error';
  s.reply(encodeError(code, { id: frame.id, timestamp: isoNow(svc), ...(slow || down ? { extra: { retry_after: 1 } } : {}) }));
}
