import type { Target } from '../load/dialects.ts';
import { rssOf } from '../../tools/process-memory.ts';
import { collectGarbage, holdLoad } from '../lib/processes.ts';
import { benchSecret, startTarget } from '../lib/targets.ts';

export interface StormResult {
  connections: number;
  failed: number;
  connectsPerSec: number;
  generatorCpu: number;
  /** Server RSS growth per idle, ready connection, in bytes. */
  rssPerConnection: number;
  /** Connections made ready per second once all were open (the relay: each registers and reads its backlog). */
  readyPerSec: number;
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The server's RSS once its garbage is collected: the lowest of a few
 * readings, each after a full collection and half a second for freed pages
 * to go back. One collection is not enough: the heap hands pages back over
 * several cycles, and a single reading after one collection moved the
 * relay's figure between 0.3 and 6.6 KiB per connection from run to run.
 */
async function rssSettled(pid: number, samples = 4, everyMs = 500): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < samples; i++) {
    collectGarbage(pid);
    await settle(everyMs);
    xs.push(rssOf(pid));
  }
  return Math.min(...xs);
}

/**
 * Opens `count` connections from generator processes on CPU 1, times the
 * handshakes (token checked), lets every device become ready, and reads
 * the server's RSS before and after with all of them idle. With PGlite the
 * relay's RSS also holds the embedded database, which grows with the
 * device rows: run with DATABASE_URL for the relay's own figure.
 */
export async function connectStorm(target: Target, count: number, workers: number, concurrency: number): Promise<StormResult> {
  const server = await startTarget(target);
  const held: { kill(): Promise<void> }[] = [];
  try {
    // A first tenth warms the server up (code paths compiled, pools and
    // caches filled, start-up garbage collected), so the memory measured
    // after it grows with the connections alone.
    const warm = Math.ceil(count / 10);
    const w0 = await holdLoad<{ connected: number }>(1, 'bench/load/connect-worker.ts', [JSON.stringify({ target, port: server.port, first: 0, count: warm, concurrency, secret: benchSecret })]);
    held.push(w0);
    await settle(300);
    const before = await rssSettled(server.pid);
    const per = Math.ceil((count - warm) / workers);
    const outs = await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        const h = await holdLoad<{ connected: number; failed: number; seconds: number; readySeconds: number; cpuSeconds: number }>(1, 'bench/load/connect-worker.ts', [
          JSON.stringify({ target, port: server.port, first: warm + w * per, count: per, concurrency, secret: benchSecret }),
        ]);
        held.push(h);
        return h.result;
      }),
    );
    await settle(300);
    const after = await rssSettled(server.pid);
    // The same reading once the storm's connections are gone again. The heap sometimes hands back, between
    // the first reading and the second, pages it held before the storm: RSS then falls while connections
    // were added. The lower of the two baselines keeps the figure from being eaten by that.
    await Promise.all(held.splice(1).map((h) => h.kill()));
    await settle(300);
    const base = Math.min(before, await rssSettled(server.pid));
    const connected = outs.reduce((n, o) => n + o.connected, 0);
    const seconds = Math.max(...outs.map((o) => o.seconds));
    return {
      connections: connected + w0.result.connected,
      failed: outs.reduce((n, o) => n + o.failed, 0),
      connectsPerSec: connected / seconds,
      generatorCpu: outs.reduce((n, o) => n + o.cpuSeconds, 0) / seconds,
      rssPerConnection: (after - base) / connected,
      readyPerSec: connected / Math.max(...outs.map((o) => o.readySeconds)),
    };
  } finally {
    await Promise.all(held.map((h) => h.kill()));
    await server.stop();
  }
}
