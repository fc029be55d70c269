import { describe, expect, it } from 'vitest';
import { bucketsAtRest, isStoredType, newBuckets, type RateRules } from '../../src/limits/session-limits.ts';
import { clientFrameTypes } from '../../src/protocol/client-frames.ts';
import { fullBucket, isFull, take } from '../../src/limits/token-bucket.ts';

describe('token bucket', () => {
  const rule = { burst: 3, ratePerSecond: 1 };
  it('allows the burst, then refuses with the wait until the next token', () => {
    const b = fullBucket(rule, 0);
    expect([take(b, rule, 0), take(b, rule, 0), take(b, rule, 0)].every((r) => r.ok)).toBe(true);
    expect(take(b, rule, 0)).toEqual({ ok: false, retryAfterMs: 1000 });
    expect(take(b, rule, 400)).toEqual({ ok: false, retryAfterMs: 600 });
    expect(take(b, rule, 1000).ok).toBe(true);
  });
  it('refills continuously up to the burst, never beyond', () => {
    const b = fullBucket(rule, 0);
    take(b, rule, 0, 3);
    expect(take(b, rule, 60_000, 3).ok).toBe(true);
    expect(take(b, rule, 60_000).ok).toBe(false);
  });
  it('charges by cost (bytes)', () => {
    const bytes = { burst: 1000, ratePerSecond: 100 };
    const b = fullBucket(bytes, 0);
    expect(take(b, bytes, 0, 900).ok).toBe(true);
    expect(take(b, bytes, 0, 200)).toEqual({ ok: false, retryAfterMs: 1000 });
  });
  it('does not go wrong when the clock steps back', () => {
    const b = fullBucket(rule, 1000);
    take(b, rule, 1000, 3);
    expect(take(b, rule, 500).ok).toBe(false);
  });
  it('is full once refilled to its burst, not before, and not by a clock that stepped back', () => {
    const b = fullBucket(rule, 0);
    expect(isFull(b, rule, 0)).toBe(true);
    take(b, rule, 0, 2);
    expect(isFull(b, rule, 1999)).toBe(false);
    expect(isFull(b, rule, 2000)).toBe(true);
    expect(isFull(b, rule, -5000)).toBe(false);
  });
});

describe('device budgets at rest', () => {
  const rules: RateRules = {
    frames: { burst: 10, ratePerSecond: 10 },
    bytes: { burst: 1000, ratePerSecond: 100 },
    messages: { burst: 3, ratePerSecond: 0.1 },
    signals: { burst: 5, ratePerSecond: 1 },
    receipts: { burst: 4, ratePerSecond: 2 },
    control: { burst: 2, ratePerSecond: 0.5 },
  };
  it('holds when every budget has refilled, and only then', () => {
    const b = newBuckets(rules, 0);
    expect(bucketsAtRest(b, rules, 0)).toBe(true);
    take(b.frames, rules.frames, 0);
    take(b.messages, rules.messages, 0);
    expect(bucketsAtRest(b, rules, 100)).toBe(false);
    // Frames are back after 100 ms; the message token takes 10 s.
    expect(bucketsAtRest(b, rules, 9_999)).toBe(false);
    expect(bucketsAtRest(b, rules, 10_000)).toBe(true);
    // A control frame's token takes 2 s to come back.
    take(b.control, rules.control, 10_000);
    expect(bucketsAtRest(b, rules, 11_999)).toBe(false);
    expect(bucketsAtRest(b, rules, 12_000)).toBe(true);
  });
  it('at rest, the budgets allow what fresh ones would', () => {
    const kept = newBuckets(rules, 0);
    take(kept.bytes, rules.bytes, 0, 1000);
    const at = 10_000;
    expect(bucketsAtRest(kept, rules, at)).toBe(true);
    const fresh = newBuckets(rules, at);
    const run = (b: typeof kept) => Array.from({ length: 12 }, () => take(b.bytes, rules.bytes, at, 100).ok);
    expect(run(kept)).toEqual(run(fresh));
  });
});

describe('stored frame types', () => {
  it('are the frames charged to the message and receipt budgets: the ones an overloaded node refuses', () => {
    expect([...clientFrameTypes].filter(isStoredType).sort()).toEqual(['media_key', 'read_receipt', 'send', 'sync_ack', 'sync_data', 'sync_request']);
  });
});
