import type { Target } from '../load/dialects.ts';
import { cpuSecondsOf, runLoad, StartGate } from '../lib/processes.ts';
import { seedFanOutUsers } from '../lib/seed.ts';
import { benchSecret, withTarget, type RunningTarget, type TargetOptions } from '../lib/targets.ts';

export interface PairsResult {
  msgPerSec: number;
  /** Sends the target refused as overloaded, per second (only the relay sheds load). */
  refusedPerSec: number;
  generatorCpu: number;
  /** CPU the server under test (all its nodes) used while the first worker measured, in cores: near 1 when it is the bottleneck on its core. */
  serverCpu: number;
  /** Latency percentiles (ms): the probe's when the load had one, otherwise the generators'. */
  p50: number | null;
  p99: number | null;
  p999: number | null;
  /** With a probe: the p99 the load generators themselves saw, their own queueing on the shared core included. */
  loadP99?: number | null;
  /** The relay's group commit and bus during the load (warm-up included): batches, operations per batch, writes and bus publishes per delivered message. */
  writes?: WriteStats;
}

export interface WriteStats {
  batches: number;
  opsPerBatch: number;
  opsPerMessage: number;
  /** Bus publishes, and their payload bytes, per delivered message (0 on a single node's memory bus). */
  publishesPerMessage: number;
  busBytesPerMessage: number;
}

/** A relay node's /healthz, the fields the bench reads. */
interface Health {
  write_batches: number;
  written_ops: number;
  bus_publishes: number;
  bus_published_bytes: number;
  shedding: number;
}
async function healthOf(port: number): Promise<Health> {
  return (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as Health;
}

/** The relay's write counters, from /healthz. */
async function writeCounters(port: number): Promise<{ batches: number; ops: number; publishes: number; busBytes: number }> {
  const h = await healthOf(port);
  return { batches: h.write_batches, ops: h.written_ops, publishes: h.bus_publishes, busBytes: h.bus_published_bytes };
}

interface WorkerOut {
  delivered: number;
  refused: number;
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
  /**
   * At a fixed rate, a separate generator process of `pairs` pairs sends
   * `rate` msg/s of the total, on the generators' core but under SCHED_FIFO
   * where the machine allows, and the latency reported is what it saw. The
   * load generators keep that core busy; measured by them, a message's
   * latency also holds the time its receiving process waited for the other
   * one's turn on the core (event-loop delays of 6-9 ms at p99 seen here).
   */
  probe?: { pairs: number; rate: number };
}

export interface PairsLoad {
  /** msg/s offered by all workers together; 0 saturates. */
  rate: number;
  /** Number of the first pair, so that successive loads on one server use new users. */
  first: number;
  /** Devices per receiver user (fan-out). */
  devices?: number;
  /** The receiver users exist already (seeded). */
  seeded?: boolean;
  /** Each sender writes to a group of seeded users (pairs-worker.ts). */
  group?: { size: number; mode: 'group' | 'singles' };
}

/**
 * 1:1 pairs against a running target, from `workers` generator processes
 * on CPU 1. Senders connect to the target's first node and receivers to
 * its last, so on a cluster every message crosses nodes. `rate` 0 saturates (closed loop with a window per sender);
 * otherwise the workers (and the probe, when `cfg.probe` is set) together
 * offer `rate` msg/s. Percentiles are the probe's; without one, the highest
 * of the workers' values.
 */
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
  // The probe sends at most a quarter of the offered rate, so the load stays the generators'.
  const probe = rate > 0 && cfg.probe ? { ...cfg.probe, rate: Math.min(cfg.probe.rate, rate / 4) } : undefined;
  const gate = new StartGate(cfg.workers + (probe ? 1 : 0));
  const worker = (pairFrom: number, count: number, workerRate: number, realtime: boolean) =>
    runLoad<WorkerOut>(
      1,
      'bench/load/pairs-worker.ts',
      [
        JSON.stringify({
          target,
          port: server.port,
          recvPort: server.ports.at(-1),
          devices: load.devices,
          seeded: load.seeded,
          group: load.group,
          first: pairFrom,
          count,
          warmupMs: cfg.warmupMs,
          measureMs: cfg.measureMs,
          window: cfg.window,
          rate: workerRate,
          realtime,
          secret: benchSecret,
        }),
      ],
      onLine,
      { gate },
    );
  const loadRate = probe ? rate - probe.rate : rate;
  const [probeOut, loadOut] = await Promise.all([
    probe ? worker(first + cfg.workers * per, probe.pairs, probe.rate, true) : undefined,
    Promise.all(Array.from({ length: cfg.workers }, (_, w) => worker(first + w * per, per, loadRate / cfg.workers, false))),
  ]);
  const all = probeOut ? [probeOut, ...loadOut] : loadOut;
  const { measuring: m0, measured: m1 } = marks;
  const seconds = Math.max(...all.map((r) => r.seconds));
  const msgPerSec = all.reduce((n, r) => n + r.delivered, 0) / seconds;
  let writes: WriteStats | undefined;
  if (before) {
    const after = await Promise.all(server.ports.map(writeCounters));
    const grew = (k: keyof (typeof after)[number]) => after.reduce((n, c, i) => n + c[k] - before[i]![k], 0);
    const [batches, ops] = [grew('batches'), grew('ops')];
    const messages = all.reduce((n, r) => n + r.deliveredAll, 0);
    const per = (n: number) => (messages ? n / messages : 0);
    writes = { batches, opsPerBatch: batches ? ops / batches : 0, opsPerMessage: per(ops), publishesPerMessage: per(grew('publishes')), busBytesPerMessage: per(grew('busBytes')) };
  }
  const worst = (k: 'p50' | 'p99' | 'p999') => (loadOut.every((r) => r[k] !== null) ? Math.max(...loadOut.map((r) => r[k]!)) : null);
  return {
    msgPerSec,
    refusedPerSec: all.reduce((n, r) => n + r.refused, 0) / seconds,
    ...(writes ? { writes } : {}),
    generatorCpu: all.reduce((n, r) => n + r.cpuSeconds, 0) / seconds,
    serverCpu: m0 && m1 ? (m1.cpu - m0.cpu) / ((m1.at - m0.at) / 1000) : 0,
    ...(probeOut ? { p50: probeOut.p50, p99: probeOut.p99, p999: probeOut.p999, loadP99: worst('p99') } : { p50: worst('p50'), p99: worst('p99'), p999: worst('p999') }),
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
    for (const [i, rate] of rates.entries()) {
      // A rate past capacity leaves the relay shedding for a while, and a shedding node refuses a share of
      // new connections: the next rate's generators would meet 503s while connecting. Each rate starts
      // once the node has stopped shedding.
      if (target === 'relay') await untilNotShedding(server.ports);
      out.push({ offered: rate, ...(await runPairs(server, target, cfg, { rate, first: (i + 1) * 10_000 })) });
    }
    return out;
  });
}

/** Waits until no node of the relay sheds load (its /healthz says so), for at most a minute. */
async function untilNotShedding(ports: readonly number[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const shares = await Promise.all(ports.map(async (port) => (await healthOf(port)).shedding));
    if (shares.every((s) => s === 0)) return;
    if (Date.now() > deadline) throw new Error(`the relay still sheds load a minute after the last rate (shares ${shares.join(', ')})`);
    await new Promise((r) => setTimeout(r, 200));
  }
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
      if (!server.databaseUrl) throw new Error("the fan-out scenario seeds the relay's database: set DATABASE_URL");
      await seedFanOutUsers(server.databaseUrl, cfg.pairs, devices);
    }
    return runPairs(server, target, cfg, { rate: 0, first: 0, devices, seeded: true });
  });
}

/**
 * A group's fan-out on the relay: each sender writes to `size` users of
 * its own (one device each), either as one group send per message or as
 * one single send to each member in turn. Counts device deliveries; the
 * members are seeded in the relay's database, so it needs Postgres.
 */
export function groupFanOut(cfg: PairsConfig, size: number, mode: 'group' | 'singles'): Promise<PairsResult> {
  return withTarget('relay', {}, async (server) => {
    if (!server.databaseUrl) throw new Error("the group scenario seeds the relay's database: set DATABASE_URL");
    await seedFanOutUsers(server.databaseUrl, cfg.pairs * size, 1);
    return runPairs(server, 'relay', cfg, { rate: 0, first: 0, seeded: true, group: { size, mode } });
  });
}
