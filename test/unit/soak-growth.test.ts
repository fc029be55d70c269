import { describe, expect, it } from 'vitest';
import { judge, slope, type Sample } from '../../tools/soak/growth.ts';

const run = (rssAt: (t: number) => number, heapAt: (t: number) => number = () => 40, writeQueue = 0): Sample[] =>
  Array.from({ length: 181 }, (_, i) => ({ t: i * 10, rssMiB: rssAt(i * 10), heapMiB: heapAt(i * 10), loopLagMs: 2, writeQueue }));

describe('soak growth verdict', () => {
  it('fits a least-squares slope', () => {
    expect(
      slope([
        { x: 0, y: 1 },
        { x: 1, y: 3 },
        { x: 2, y: 5 },
      ]),
    ).toBeCloseTo(2);
    expect(slope([{ x: 1, y: 1 }])).toBe(0);
  });

  it('passes a flat run with start-up growth and noise, and fails steady growth of RSS, heap or the write queue', () => {
    // Fast growth in the first minutes (warm-up), then flat with a sawtooth from the collector.
    const flat = judge(run((t) => (t < 300 ? 80 + t / 10 : 110) + ((t / 10) % 7)));
    expect(flat.failures).toEqual([]);
    expect(Math.abs(flat.rssMiBPerHour)).toBeLessThan(5);
    // 60 MiB an hour: 30 MiB over a 30-minute run.
    expect(judge(run((t) => 100 + t / 60)).failures).toEqual([expect.stringMatching(/^RSS grew 60\.0 MiB\/h/)]);
    expect(
      judge(
        run(
          () => 100,
          (t) => 40 + t / 120,
        ),
      ).failures,
    ).toEqual([expect.stringMatching(/^heap grew 30\.0 MiB\/h/)]);
    expect(
      judge(
        run(
          () => 100,
          () => 40,
          9000,
        ),
      ).failures,
    ).toEqual([expect.stringMatching(/^write queue at 9000/)]);
  });
});
