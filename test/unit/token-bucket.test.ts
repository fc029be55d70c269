import { describe, expect, it } from 'vitest';
import { fullBucket, take } from '../../src/limits/token-bucket.ts';

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
});
