import { spawnSync } from 'node:child_process';

/**
 * The load process's side of StartGate (bench/lib/processes.ts): says it is
 * ready and waits for the word to start. Exits if its input closes first
 * (another process of the gate failed), so that nothing is left running.
 */
export function waitForGate(realtime = false): Promise<void> {
  if (realtime) toRealtime();
  console.log('{"phase":"ready"}');
  return new Promise((resolve) => {
    process.stdin.once('data', () => {
      process.stdin.pause();
      resolve();
    });
    process.stdin.once('end', () => process.exit(1));
  });
}

/**
 * Moves this process's main thread to SCHED_FIFO, so that it runs as soon
 * as it has something to do, ahead of the load generators on its core. Only
 * the main thread, and only once everything is loaded: started under
 * SCHED_FIFO, the whole process spun at a full core here before reaching
 * its first line (tsx's module loader thread and the main thread waiting on
 * each other at one fixed priority). Without the right to (hasRealtime) it
 * stays where it is.
 */
function toRealtime(): void {
  spawnSync('chrt', ['-f', '-p', '1', String(process.pid)]);
}
