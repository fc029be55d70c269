/** The middle element by `key` (the upper middle for an even count). */
export function medianBy<T>(xs: readonly T[], key: (x: T) => number): T {
  return [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]!;
}

export const median = (xs: readonly number[]): number => medianBy(xs, (x) => x);
