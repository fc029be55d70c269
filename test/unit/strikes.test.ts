import { describe, expect, it } from 'vitest';
import { addStrike, noStrikes } from '../../src/limits/strikes.ts';

describe('garbage strikes', () => {
  it('exceeds at the limit within one window', () => {
    let s = noStrikes;
    const results: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const r = addStrike(s, 1000 + i, 60_000, 3);
      s = r.state;
      results.push(r.exceeded);
    }
    expect(results).toEqual([false, false, true]);
  });
  it('starts a new window after windowMs', () => {
    const first = addStrike(noStrikes, 0, 1000, 2).state;
    const second = addStrike(first, 5000, 1000, 2);
    expect(second).toEqual({ state: { count: 1, windowStart: 5000 }, exceeded: false });
  });
});
