import { describe, expect, it } from 'vitest';
import { closesDue } from '../../src/session/drain-plan.ts';
import { closeInStages } from '../../src/session/staged-close.ts';

describe('the staged drain', () => {
  it('closes an even share by elapsed time, rounded up, everything at the end or with no window', () => {
    expect([0, 1, 250, 500, 999, 1000, 2000].map((t) => closesDue(10, t, 1000))).toEqual([0, 1, 3, 5, 10, 10, 10]);
    expect(closesDue(10, 0, 0)).toBe(10);
    expect(closesDue(0, 500, 1000)).toBe(0);
    expect(closesDue(3, 400, 1000)).toBe(2);
  });

  it('closes every item once, in order, by the end of the window', async () => {
    let now = 0;
    const closed: number[] = [];
    const done = closeInStages(
      [1, 2, 3, 4],
      1000,
      (i) => closed.push(i),
      () => now,
      5,
    );
    expect(closed).toEqual([]);
    now = 500;
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toEqual([1, 2]);
    now = 1000;
    await done;
    expect(closed).toEqual([1, 2, 3, 4]);
    const none: number[] = [];
    await closeInStages([7, 8], 0, (i) => none.push(i));
    expect(none).toEqual([7, 8]);
  });
});
