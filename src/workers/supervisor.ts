import { spawn, type ChildProcess } from 'node:child_process';
import type { Config } from '../config/config.ts';
import type { Logger } from '../util/logger.ts';
import { restartDelayMs, workerEnv } from './worker-plan.ts';

/**
 * WORKERS=N: runs N relay processes of this same entry point on one port
 * (worker-plan.ts), restarts one that dies, and on SIGTERM or SIGINT passes
 * the signal to every worker (each drains as a single node would) and
 * exits once they all have: 0 if every worker stopped cleanly.
 */
export function runWorkers(config: Config, nodeId: string, log: Logger): void {
  const workers: (ChildProcess | undefined)[] = [];
  const crashes: number[][] = [];
  let stopping: NodeJS.Signals | undefined;
  let failed = false;

  const start = (index: number) => {
    const env = workerEnv(process.env, index, { metrics: config.METRICS_PORT, admin: config.ADMIN_PORT }, nodeId);
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env, stdio: 'inherit' });
    workers[index] = child;
    log.info('worker started', { worker: index, pid: child.pid });
    child.once('exit', (code, signal) => {
      workers[index] = undefined;
      if (stopping) {
        if (code !== 0) failed = true;
        if (workers.every((w) => w === undefined)) {
          log.info('workers stopped', { signal: stopping });
          process.exit(failed ? 1 : 0);
        }
        return;
      }
      const now = Date.now();
      crashes[index] = [...(crashes[index] ?? []), now].filter((t) => now - t < 60_000);
      const delay = restartDelayMs(crashes[index], now);
      log.error('worker exited; starting it again', { worker: index, code, signal, restart_in_ms: delay });
      setTimeout(() => {
        if (!stopping) start(index);
      }, delay);
    });
  };

  for (let i = 0; i < config.WORKERS; i++) start(i);
  log.info('workers started', { workers: config.WORKERS, port: config.PORT });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = signal;
      for (const w of workers) w?.kill(signal);
      if (workers.every((w) => w === undefined)) process.exit(0);
    });
  }
}
