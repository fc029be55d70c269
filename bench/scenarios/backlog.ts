import { runLoad } from '../lib/processes.ts';
import { benchSecret, withTarget } from '../lib/targets.ts';

export interface BacklogResult {
  stored: number;
  /** Offline sends made durable per second (each acked only once committed). */
  storedPerSec: number;
  drained: number;
  /** Backlog messages delivered and acked per second, from reconnect to the last queue_empty. */
  drainedPerSec: number;
  generatorCpu: number;
}

interface WorkerOut {
  stored: number;
  storeSeconds: number;
  drained: number;
  drainSeconds: number;
  cpuSeconds: number;
}

/**
 * Offline backlog on the relay: `pairs` receivers go offline, their senders
 * store `perPair` messages each, then all receivers reconnect and drain.
 * Workers run side by side on CPU 1; each phase's rate is the total over
 * the slowest worker's time.
 */
export async function backlogDrain(pairs: number, perPair: number, workers: number): Promise<BacklogResult> {
  return withTarget('relay', {}, async (server) => {
    const per = Math.ceil(pairs / workers);
    const outs = await Promise.all(
      Array.from({ length: workers }, (_, w) =>
        runLoad<WorkerOut>(1, 'bench/load/backlog-worker.ts', [JSON.stringify({ port: server.port, first: w * per, count: per, perPair, window: 32, secret: benchSecret })]),
      ),
    );
    const sum = (k: 'stored' | 'drained' | 'cpuSeconds') => outs.reduce((n, o) => n + o[k], 0);
    const drainSeconds = Math.max(...outs.map((o) => o.drainSeconds));
    return {
      stored: sum('stored'),
      storedPerSec: sum('stored') / Math.max(...outs.map((o) => o.storeSeconds)),
      drained: sum('drained'),
      drainedPerSec: sum('drained') / drainSeconds,
      generatorCpu: sum('cpuSeconds') / drainSeconds,
    };
  });
}
