import type { Config } from '../config/config.ts';
import type { ClientFrameType } from '../protocol/client-frames.ts';
import { ALLOWED, fullBucket, isFull, take, type Bucket, type BucketRule, type TakeResult } from './token-bucket.ts';

/**
 * Per-device rate limits, kept in the session (no Redis, no round trip):
 * a device's frames all reach the node it is connected to. Six budgets:
 * all frames, inbound bytes, stored messages, ephemeral signals, read
 * receipts (each may store a row per id and sender device), and control
 * frames (each reads or writes the database outside the write queue).
 */
export interface DeviceBuckets {
  frames: Bucket;
  bytes: Bucket;
  messages: Bucket;
  signals: Bucket;
  receipts: Bucket;
  control: Bucket;
}

export type RateRules = { readonly [K in keyof DeviceBuckets]: BucketRule };

export function rateRules(c: Config): RateRules {
  return {
    frames: { burst: c.RATE_FRAMES_BURST, ratePerSecond: c.RATE_FRAMES_PER_SECOND },
    bytes: { burst: c.RATE_BYTES_BURST, ratePerSecond: c.RATE_BYTES_PER_SECOND },
    messages: { burst: c.RATE_MESSAGES_BURST, ratePerSecond: c.RATE_MESSAGES_PER_SECOND },
    signals: { burst: c.RATE_SIGNALS_BURST, ratePerSecond: c.RATE_SIGNALS_PER_SECOND },
    receipts: { burst: c.RATE_RECEIPTS_BURST, ratePerSecond: c.RATE_RECEIPTS_PER_SECOND },
    control: { burst: c.RATE_CONTROL_BURST, ratePerSecond: c.RATE_CONTROL_PER_SECOND },
  };
}

export function newBuckets(r: RateRules, now: number): DeviceBuckets {
  return {
    frames: fullBucket(r.frames, now),
    bytes: fullBucket(r.bytes, now),
    messages: fullBucket(r.messages, now),
    signals: fullBucket(r.signals, now),
    receipts: fullBucket(r.receipts, now),
    control: fullBucket(r.control, now),
  };
}

/**
 * Whether every budget has refilled by `now`: the device then holds exactly
 * what `newBuckets` would give it, and its session may drop them until its
 * next frame (about 400 bytes of heap per device).
 */
export const bucketsAtRest = (b: DeviceBuckets, r: RateRules, now: number): boolean =>
  isFull(b.frames, r.frames, now) &&
  isFull(b.bytes, r.bytes, now) &&
  isFull(b.messages, r.messages, now) &&
  isFull(b.signals, r.signals, now) &&
  isFull(b.receipts, r.receipts, now) &&
  isFull(b.control, r.control, now);

/**
 * Which typed budget each frame type is charged to, beyond frames and
 * bytes: every type of the frame schemas, so a new one does not compile
 * until it is placed. `none` for frames that only answer or keep the
 * socket alive.
 */
const budgetOf: Record<ClientFrameType, 'messages' | 'signals' | 'receipts' | 'control' | 'none'> = {
  delivery_ack: 'none',
  heartbeat: 'none',
  ping: 'none',
  pong: 'none',
  token_refresh: 'none',
  send: 'messages',
  media_key: 'messages',
  sync_request: 'messages',
  sync_data: 'messages',
  sync_ack: 'messages',
  read_receipt: 'receipts',
  typing: 'signals',
  call_offer: 'signals',
  call_answer: 'signals',
  call_reject: 'signals',
  call_end: 'signals',
  ice_candidate: 'signals',
  devices_list: 'control',
  contact_add: 'control',
  contact_remove: 'control',
  presence: 'control',
  online_contacts: 'control',
  device_register: 'control',
  device_approve: 'control',
  device_deny: 'control',
  device_revoke: 'control',
  device_list_sign: 'control',
  push_register: 'control',
  push_unregister: 'control',
};

/** The frames charged to the message and receipt budgets are the ones whose handlers store entries. */
const storedTypes: ReadonlySet<string> = new Set(Object.entries(budgetOf).flatMap(([type, budget]) => (budget === 'messages' || budget === 'receipts' ? [type] : [])));
/** Frames the relay stores: the ones an overloaded node refuses (overload-gate.ts). */
export const isStoredType = (type: string): boolean => storedTypes.has(type);

/** Charged for every frame before it is decoded: one frame, its bytes. */
export function chargeInbound(b: DeviceBuckets, r: RateRules, bytes: number, now: number): TakeResult {
  const f = take(b.frames, r.frames, now);
  if (!f.ok) return f;
  return take(b.bytes, r.bytes, now, bytes);
}

/** Charged once the type is known: stored messages, signals, receipts and control frames have budgets of their own. */
export function chargeType(b: DeviceBuckets, r: RateRules, type: ClientFrameType, now: number): TakeResult {
  const budget = budgetOf[type];
  return budget === 'none' ? ALLOWED : take(b[budget], r[budget], now);
}
