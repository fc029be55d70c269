import type { Target } from '../load/dialects.ts';
import { runLoad } from '../lib/processes.ts';
import { benchSecret, startTarget, type RunningTarget } from '../lib/targets.ts';

export interface PairsResult {
  msgPerSec: number;
  generatorCpu: number;
  p50: number | null;
  p99: number | null;
  p999: number | null;
}

interface WorkerOut {
  delivered: number;
  seconds: number;
  cpuSeconds: number;
  p50: number | null;
  p99: number | null;
  p999: number | null;
}

export interface PairsConfig {
  pairs: number;
  workers: number;
  warmupMs: number;
  measureMs: number;
  window: number;
}

/**
 * 1:1 pairs against a running target, from `workers` generator processes
 * on CPU 1. `rate` 0 saturates (closed loop with a window per sender);
 * otherwise the workers together offer `rate` msg/s and report latency.
 * Percentiles are those of the worker with the most samples' neighbours
 * merged conservatively: the highest of the workers' values.
 */
export async function runPairs(server: RunningTarget, target: Target, cfg: PairsConfig, rate: number, first: number): Promise<PairsResult> {
  const per = Math.ceil(cfg.pairs / cfg.workers);
  const results = await Promise.all(
    Array.from({ length: cfg.workers }, (_, w) =>
      runLoad<WorkerOut>(1, 'bench/load/pairs-worker.ts', [
        JSON.stringify({ target, port: server.port, first: first + w * per, count: per, warmupMs: cfg.warmupMs, measureMs: cfg.measureMs, window: cfg.window, rate: rate / cfg.workers, secret: benchSecret }),
      ]),
    ),
  );
  const seconds = Math.max(...results.map((r) => r.seconds));
  const worst = (k: 'p50' | 'p99' | 'p999') => (results.every((r) => r[k] !== null) ? Math.max(...results.map((r) => r[k]!)) : null);
  return {
    msgPerSec: results.reduce((n, r) => n + r.delivered, 0) / seconds,
    generatorCpu: results.reduce((n, r) => n + r.cpuSeconds, 0) / seconds,
    p50: worst('p50'),
    p99: worst('p99'),
    p999: worst('p999'),
  };
}

/** Saturation throughput, `runs` times on fresh servers; returns every run. */
export async function saturation(target: Target, cfg: PairsConfig, runs: number): Promise<PairsResult[]> {
  const out: PairsResult[] = [];
  for (let i = 0; i < runs; i++) {
    const server = await startTarget(target);
    try {
      out.push(await runPairs(server, target, cfg, 0, 0));
    } finally {
      await server.stop();
    }
  }
  return out;
}

/** Latency at each offered rate, one server for the whole sweep (fresh users per rate). */
export async function latencySweep(target: Target, cfg: PairsConfig, rates: number[]): Promise<(PairsResult & { offered: number })[]> {
  const server = await startTarget(target);
  try {
    const out: (PairsResult & { offered: number })[] = [];
    for (const [i, rate] of rates.entries()) out.push({ offered: rate, ...(await runPairs(server, target, cfg, rate, (i + 1) * 10_000)) });
    return out;
  } finally {
    await server.stop();
  }
}
