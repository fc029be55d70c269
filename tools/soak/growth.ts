/**
 * Whether a soak run's memory grew: the least-squares slope of each
 * series over the samples after the warm-up, against a stated bound. Pure,
 * so the verdict is tested apart from the run.
 */
export interface Sample {
  /** Seconds since the start of the run. */
  t: number;
  rssMiB: number;
  heapMiB: number;
  /** V8's whole heap and the memory outside it (Buffers, native addons): where RSS goes when the used heap does not grow. */
  heapTotalMiB?: number;
  externalMiB?: number;
  /** Resident memory by kind (process-memory.ts residentByKind), where the relay's process could be read. */
  brkMiB?: number;
  anonMiB?: number;
  fileMiB?: number;
  loopLagMs: number;
  writeQueue: number;
}

export interface Bounds {
  /** The first share of the run left out (start-up, caches filling). */
  warmupShare: number;
  rssMiBPerHour: number;
  heapMiBPerHour: number;
  /** The write queue at the end: it must not have kept growing. */
  writeQueueAtEnd: number;
}

export const defaultBounds: Bounds = { warmupShare: 0.2, rssMiBPerHour: 24, heapMiBPerHour: 12, writeQueueAtEnd: 5000 };

/** Least-squares slope of y over x; 0 with fewer than two points. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export interface Verdict {
  rssMiBPerHour: number;
  heapMiBPerHour: number;
  writeQueueAtEnd: number;
  maxLoopLagMs: number;
  failures: string[];
}

export function judge(samples: readonly Sample[], b: Bounds = defaultBounds): Verdict {
  const end = samples.at(-1)?.t ?? 0;
  const kept = samples.filter((s) => s.t >= end * b.warmupShare);
  const perHour = (pick: (s: Sample) => number) => slope(kept.map((s) => ({ x: s.t, y: pick(s) }))) * 3600;
  const v: Verdict = {
    rssMiBPerHour: perHour((s) => s.rssMiB),
    heapMiBPerHour: perHour((s) => s.heapMiB),
    writeQueueAtEnd: samples.at(-1)?.writeQueue ?? 0,
    maxLoopLagMs: Math.max(0, ...samples.map((s) => s.loopLagMs)),
    failures: [],
  };
  if (kept.length < 5) v.failures.push(`too few samples after the warm-up (${kept.length})`);
  if (v.rssMiBPerHour > b.rssMiBPerHour) v.failures.push(`RSS grew ${v.rssMiBPerHour.toFixed(1)} MiB/h (bound ${b.rssMiBPerHour})`);
  if (v.heapMiBPerHour > b.heapMiBPerHour) v.failures.push(`heap grew ${v.heapMiBPerHour.toFixed(1)} MiB/h (bound ${b.heapMiBPerHour})`);
  if (v.writeQueueAtEnd > b.writeQueueAtEnd) v.failures.push(`write queue at ${v.writeQueueAtEnd} at the end (bound ${b.writeQueueAtEnd})`);
  return v;
}
