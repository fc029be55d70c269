import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adviseOnClose, backoffDelay, defaultBackoff, retryDelay } from '../../sdk/reconnect-policy.ts';
import { DedupWindow } from '../../sdk/dedup-window.ts';

describe('reconnect policy', () => {
  it('full jitter stays within [0, min(cap, base * 2^attempt))', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(attempt, defaultBackoff, () => r);
        const ceiling = Math.min(defaultBackoff.capMs, defaultBackoff.baseMs * 2 ** attempt);
        return d >= 0 && d < ceiling && Number.isInteger(d);
      }),
    );
  });

  it('the ceiling doubles per attempt up to the cap', () => {
    const top = (attempt: number) => backoffDelay(attempt, { baseMs: 100, capMs: 1_000 }, () => 0.999999);
    expect([0, 1, 2, 3, 4, 10].map(top)).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it('a refused frame waits at least what the relay asked, spread over [d, 2d), d doubling per refusal up to the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (askedS, refusals, r) => {
        const asked = askedS * 1000;
        const wait = retryDelay(asked, refusals, defaultBackoff, () => r);
        const d = Math.min(defaultBackoff.capMs, asked * 2 ** refusals);
        return wait >= asked && Number.isInteger(wait) && (wait === asked || (wait >= d && wait < 2 * d));
      }),
    );
    const spread = (refusals: number) => [0, 0.5, 0.999999].map((r) => retryDelay(1000, refusals, defaultBackoff, () => r));
    expect(spread(0)).toEqual([1000, 1500, 1999]);
    expect(spread(2)).toEqual([4000, 6000, 7999]);
    expect(spread(10)).toEqual([30_000, 45_000, 59_999]);
  });

  it('never reconnects blindly on the relay 44xx codes, nor on policy or size closes', () => {
    expect(adviseOnClose(4403)).toMatchObject({ action: 'stop' });
    expect(adviseOnClose(4409)).toMatchObject({ action: 'stop' });
    expect(adviseOnClose(1008)).toMatchObject({ action: 'stop' });
    expect(adviseOnClose(1009)).toMatchObject({ action: 'stop' });
    expect(adviseOnClose(4401)).toEqual({ action: 'refresh_token' });
    expect(adviseOnClose(4410)).toEqual({ action: 'refresh_token' });
    expect(adviseOnClose(4429)).toEqual({ action: 'reconnect', minDelayMs: 60_000 });
  });

  it('backs off on restarts, overload and lost connections', () => {
    expect(adviseOnClose(1001)).toEqual({ action: 'reconnect', minDelayMs: 0 });
    expect(adviseOnClose(1013)).toEqual({ action: 'reconnect', minDelayMs: 2_000 });
    expect(adviseOnClose(1006)).toEqual({ action: 'reconnect', minDelayMs: 0 });
    expect(adviseOnClose(1011)).toEqual({ action: 'reconnect', minDelayMs: 0 });
  });
});

describe('dedup window', () => {
  it('remembers at least the last `capacity` keys and at most twice as many, and forgets older ones', () => {
    const w = new DedupWindow(3);
    for (let i = 0; i < 100; i++) {
      w.add(`k${i}`);
      w.add(`k${i}`);
      for (let j = Math.max(0, i - 2); j <= i; j++) expect(w.has(`k${j}`)).toBe(true);
      expect(w.size).toBeLessThanOrEqual(6);
    }
    expect(w.has('k0')).toBe(false);
  });
});
