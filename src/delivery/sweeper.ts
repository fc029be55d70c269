import type { Logger } from '../util/logger.ts';
import type { QueueStore } from './queue-store.ts';

export interface SweeperOptions {
  store: QueueStore;
  log: Logger;
  now: () => number;
  retentionMs: number;
  intervalMs: number;
  /** Device rows that never registered, removed once unseen for `ttlMs`. */
  unregistered?: { prune: (cutoff: Date) => Promise<number>; ttlMs: number };
  /** Rows per delete statement, so a large expiry never holds locks for long. */
  chunk?: number;
}

/**
 * Removes queue entries older than the retention period, and any left for
 * revoked devices, and device rows that never registered and went unseen
 * (the cap on them counts only live ones). Runs once at start and then every interval; each run
 * deletes in chunks until nothing old is left. Returns a stop function.
 */
export function startSweeper(opts: SweeperOptions): { stop(): void; runOnce(): Promise<number> } {
  const chunk = opts.chunk ?? 5000;
  let running: Promise<number> | undefined;
  const runOnce = (): Promise<number> => {
    running ??= (async () => {
      const cutoff = new Date(opts.now() - opts.retentionMs);
      let total = 0;
      for (;;) {
        const n = await opts.store.sweep(cutoff, chunk);
        total += n;
        if (n < chunk) break;
      }
      if (total > 0) opts.log.info('expired queue entries removed', { count: total, cutoff: cutoff.toISOString() });
      const orphans = await opts.store.purgeRevoked();
      if (orphans > 0) opts.log.info('queue entries of revoked devices removed', { count: orphans });
      if (opts.unregistered) {
        const stale = await opts.unregistered.prune(new Date(opts.now() - opts.unregistered.ttlMs));
        if (stale > 0) opts.log.info('unregistered device rows removed', { count: stale });
      }
      return total;
    })().finally(() => (running = undefined));
    return running;
  };
  const tick = () => void runOnce().catch((err: unknown) => opts.log.warn('retention sweep failed', { err }));
  const timer = setInterval(tick, opts.intervalMs);
  timer.unref();
  tick();
  return { stop: () => clearInterval(timer), runOnce };
}
