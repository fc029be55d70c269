/**
 * A token bucket as plain data and one pure function, so the arithmetic is
 * tested on its own and a session keeps a few numbers per bucket (no timers).
 * `ratePerSecond` tokens are added continuously up to `burst`; an action
 * costing `cost` tokens is allowed when that many are there.
 */
export interface Bucket {
  tokens: number;
  at: number;
}

export interface BucketRule {
  burst: number;
  ratePerSecond: number;
}

export function fullBucket(rule: BucketRule, now: number): Bucket {
  return { tokens: rule.burst, at: now };
}

/** What taking from a bucket answers. */
export interface TakeResult {
  readonly ok: boolean;
  readonly retryAfterMs: number;
}

/** The answer when the tokens were there: one shared object, since every frame is charged and most pass. */
export const ALLOWED: TakeResult = Object.freeze({ ok: true, retryAfterMs: 0 });

/** The tokens `b` holds at `now`. A clock that stepped back adds nothing. */
const refilledAt = (b: Bucket, rule: BucketRule, now: number): number => Math.min(rule.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * rule.ratePerSecond);

/**
 * Whether `b` has refilled to its burst by `now`. A full bucket says nothing
 * a fresh one (`fullBucket`) would not, so its holder may forget it.
 */
export const isFull = (b: Bucket, rule: BucketRule, now: number): boolean => refilledAt(b, rule, now) >= rule.burst;

export function take(b: Bucket, rule: BucketRule, now: number, cost = 1): TakeResult {
  const refilled = refilledAt(b, rule, now);
  b.at = now;
  if (refilled >= cost) {
    b.tokens = refilled - cost;
    return ALLOWED;
  }
  b.tokens = refilled;
  // A cost above the burst can never be paid; say so with the time a full bucket takes.
  const missing = Math.min(cost, rule.burst) - refilled;
  return { ok: false, retryAfterMs: rule.ratePerSecond > 0 ? Math.ceil((missing / rule.ratePerSecond) * 1000) : Number.POSITIVE_INFINITY };
}
