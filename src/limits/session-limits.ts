import type { Config } from '../config/config.ts';
import type { ClientFrameType } from '../protocol/client-frames.ts';
import { ALLOWED, fullBucket, isFull, take, type Bucket, type BucketRule, type TakeResult } from './token-bucket.ts';

/**
 * Per-device rate limits, kept in the session (no Redis, no round trip):
 * a device's frames all reach the node it is connected to. Four budgets:
 * all frames, inbound bytes, stored messages, and ephemeral signals.
 */
export interface DeviceBuckets {
  frames: Bucket;
  bytes: Bucket;
  messages: Bucket;
  signals: Bucket;
}

export interface RateRules {
  frames: BucketRule;
  bytes: BucketRule;
  messages: BucketRule;
  signals: BucketRule;
}

export function rateRules(c: Config): RateRules {
  return {
    frames: { burst: c.RATE_FRAMES_BURST, ratePerSecond: c.RATE_FRAMES_PER_SECOND },
    bytes: { burst: c.RATE_BYTES_BURST, ratePerSecond: c.RATE_BYTES_PER_SECOND },
    messages: { burst: c.RATE_MESSAGES_BURST, ratePerSecond: c.RATE_MESSAGES_PER_SECOND },
    signals: { burst: c.RATE_SIGNALS_BURST, ratePerSecond: c.RATE_SIGNALS_PER_SECOND },
  };
}

export function newBuckets(r: RateRules, now: number): DeviceBuckets {
  return { frames: fullBucket(r.frames, now), bytes: fullBucket(r.bytes, now), messages: fullBucket(r.messages, now), signals: fullBucket(r.signals, now) };
}

/**
 * Whether all four budgets have refilled by `now`: the device then holds
 * exactly what `newBuckets` would give it, and its session may drop them
 * until its next frame (about 280 bytes of heap per device).
 */
export const bucketsAtRest = (b: DeviceBuckets, r: RateRules, now: number): boolean =>
  isFull(b.frames, r.frames, now) && isFull(b.bytes, r.bytes, now) && isFull(b.messages, r.messages, now) && isFull(b.signals, r.signals, now);

const messageTypes: ReadonlySet<ClientFrameType> = new Set(['send', 'media_key', 'sync_request', 'sync_data', 'sync_ack', 'read_receipt']);
/** Frames the relay stores: the ones an overloaded node refuses (overload-gate.ts). */
export const isStoredType = (type: string): boolean => (messageTypes as ReadonlySet<string>).has(type);
const signalTypes: ReadonlySet<ClientFrameType> = new Set(['typing', 'call_offer', 'call_answer', 'call_reject', 'call_end', 'ice_candidate']);

/** Charged for every frame before it is decoded: one frame, its bytes. */
export function chargeInbound(b: DeviceBuckets, r: RateRules, bytes: number, now: number): TakeResult {
  const f = take(b.frames, r.frames, now);
  if (!f.ok) return f;
  return take(b.bytes, r.bytes, now, bytes);
}

/** Charged once the type is known: stored messages and signals have budgets of their own. */
export function chargeType(b: DeviceBuckets, r: RateRules, type: ClientFrameType, now: number): TakeResult {
  if (messageTypes.has(type)) return take(b.messages, r.messages, now);
  if (signalTypes.has(type)) return take(b.signals, r.signals, now);
  return ALLOWED;
}
