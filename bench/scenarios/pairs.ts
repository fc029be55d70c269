import type { Target } from '../load/dialects.ts';
import { cpuSecondsOf, runLoad } from '../lib/processes.ts';
import { seedFanOutUsers } from '../lib/seed.ts';
import { benchSecret, withTarget, type RunningTarget, type TargetOptions } from '../lib/targets.ts';

export interface PairsResult {
  msgPerSec: number;
  generatorCpu: number;
  /** CPU the server under test (all its nodes) used while the first worker measured, in cores: near 1 when it is the bottleneck on its core. */
  serverCpu: number;
  p50: number | null;
  p99: number | null;
  p999: number | null;
  /** The relay's group commit during the load (warm-up included): batches, operations per batch, operations per delivered message. */
  writes?: WriteStats;
}

export interface WriteStats {
  batches: number;
  opsPerBatch: number;
  opsPerMessage: number;
}

/** The relay's write counters, from /healthz. */
async function writeCounters(port: number): Promise<{ batches: number; ops: number }> {
  const h = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { write_batches: number; written_ops: number };
  return { batches: h.write_batches, ops: h.written_ops };
}

interface WorkerOut {
  delivered: number;
  deliveredAll: number;
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
 * on CPU 1. Senders connect to the target's first node and receivers to
 * its last, so on a cluster every message crosses nodes. `rate` 0 saturates (closed loop with a window per sender);
 * otherwise the workers together offer `rate` msg/s and report latency.
 * Percentiles are those of the worker with the most samples' neighbours
 * merged conservatively: the highest of the workers' values.
 */
export interface PairsLoad {
  /** msg/s offered by all workers together; 0 saturates. */
  rate: number;
  /** Number of the first pair, so that successive loads on one server use new users. */
  first: number;
  /** Devices per receiver user (fan-out). */
  devices?: number;
  /** The receiver users exist already (seeded). */
  seeded?: boolean;
}

export async function runPairs(server: RunningTarget, target: Target, cfg: PairsConfig, load: PairsLoad): Promise<PairsResult> {
  const { rate, first } = load;
  const per = Math.ceil(cfg.pairs / cfg.workers);
  const before = target === 'relay' ? await Promise.all(server.ports.map(writeCounters)) : undefined;
  const serverCpu = () => ({ at: performance.now(), cpu: server.pids.reduce((n, pid) => n + cpuSecondsOf(pid), 0) });
  const marks: { measuring?: ReturnType<typeof serverCpu>; measured?: ReturnType<typeof serverCpu> } = {};
  const onLine = (line: string) => {
    const phase = line.startsWith('{"phase"') ? (JSON.parse(line) as { phase: 'measuring' | 'measured' }).phase : undefined;
    if (phase && !marks[phase]) marks[phase] = serverCpu();
  };
  const results = await Promise.all(
    Array.from({ length: cfg.workers }, (_, w) =>
      runLoad<WorkerOut>(
        1,
        'bench/load/pairs-worker.ts',
        [
          JSON.stringify({ target, port: server.port, recvPort: server.ports.at(-1), devices: load.devices, seeded: load.seeded, first: first + w * per, count: per, warmupMs: cfg.warmupMs, measureMs: cfg.measureMs, window: cfg.window, rate: rate / cfg.workers, secret: benchSecret }),
        ],
        onLine,
      ),
    ),
  );
  const { measuring: m0, measured: m1 } = marks;
  const seconds = Math.max(...results.map((r) => r.seconds));
  const msgPerSec = results.reduce((n, r) => n + r.delivered, 0) / seconds;
  let writes: WriteStats | undefined;
  if (before) {
    const after = await Promise.all(server.ports.map(writeCounters));
    const batches = after.reduce((n, c, i) => n + c.batches - before[i]!.batches, 0);
    const ops = after.reduce((n, c, i) => n + c.ops - before[i]!.ops, 0);
    const messages = results.reduce((n, r) => n + r.deliveredAll, 0);
    writes = { batches, opsPerBatch: batches ? ops / batches : 0, opsPerMessage: messages ? ops / messages : 0 };
  }
  const worst = (k: 'p50' | 'p99' | 'p999') => (results.every((r) => r[k] !== null) ? Math.max(...results.map((r) => r[k]!)) : null);
  return {
    msgPerSec,
    ...(writes ? { writes } : {}),
    generatorCpu: results.reduce((n, r) => n + r.cpuSeconds, 0) / seconds,
    serverCpu: m0 && m1 ? (m1.cpu - m0.cpu) / ((m1.at - m0.at) / 1000) : 0,
    p50: worst('p50'),
    p99: worst('p99'),
    p999: worst('p999'),
  };
}

/** Saturation throughput on a fresh server (or cluster). */
export function saturation(target: Target, cfg: PairsConfig, opts: TargetOptions = {}): Promise<PairsResult> {
  return withTarget(target, opts, (server) => runPairs(server, target, cfg, { rate: 0, first: 0 }));
}

/** Latency at each offered rate, one server for the whole sweep (fresh users per rate). */
export function latencySweep(target: Target, cfg: PairsConfig, rates: number[]): Promise<(PairsResult & { offered: number })[]> {
  return withTarget(target, {}, async (server) => {
    const out: (PairsResult & { offered: number })[] = [];
    for (const [i, rate] of rates.entries()) out.push({ offered: rate, ...(await runPairs(server, target, cfg, { rate, first: (i + 1) * 10_000 })) });
    return out;
  });
}

/**
 * Saturation with fan-out: each receiver user has `devices` devices and
 * every send carries one ciphertext per device. Counts device deliveries.
 * The relay's receiver users are seeded as approved devices in its
 * database first, so it needs Postgres.
 */
export function fanOut(target: Target, cfg: PairsConfig, devices: number): Promise<PairsResult> {
  return withTarget(target, {}, async (server) => {
    if (target === 'relay') {
      if (!server.databaseUrl) throw new Error('the fan-out scenario seeds the relay\'s database: set DATABASE_URL');
      await seedFanOutUsers(server.databaseUrl, cfg.pairs, devices);
    }
    return runPairs(server, target, cfg, { rate: 0, first: 0, devices, seeded: true });
  });
}
