/**
 * `npx tsx bench/alloc-sample.ts [--survivors] [AFTER_MS] [FOR_MS] [PORT]`: what a server
 * under load allocates, and where. It waits for a Node inspector on
 * 127.0.0.1:PORT (9229), lets AFTER_MS pass (7000: start-up and warm-up),
 * then samples every allocation for FOR_MS (4000), objects that were
 * collected again included, and prints the bytes sampled and the top
 * allocation sites (a function and its two callers; inlined callees count
 * as their caller). Run it beside a bench run that starts the server with
 * the inspector open:
 *
 *   npx tsx bench/alloc-sample.ts & BENCH_SERVER_FLAGS=--inspect=127.0.0.1:9229 \
 *     npm run bench -- --runs 1 --only saturation --targets relay
 *
 * Bytes per message are the bytes sampled over (msg/s x FOR_MS). The
 * sampling itself slows the server: read its throughput from a run without.
 *
 * With `--survivors` it keeps only what outlived the young generation:
 * objects a scavenge collected are dropped from the sample, objects a full
 * collection collected are kept. What it prints is then what the server
 * promotes to the old generation, live or already dead there: the objects
 * that make the full collections and their pauses.
 */
import WebSocket from 'ws';

interface SampleNode {
  callFrame: { functionName: string; lineNumber: number; url: string };
  selfSize: number;
  children: SampleNode[];
}

const survivors = process.argv.includes('--survivors');
const [afterMs = 7000, forMs = 4000, port = 9229] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'))
  .map(Number);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function inspectorUrl(): Promise<string> {
  for (let i = 0; i < 600; i++) {
    try {
      const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
      if (targets[0]) return targets[0].webSocketDebuggerUrl;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error(`no inspector on 127.0.0.1:${port}`);
}

const ws = new WebSocket(await inspectorUrl());
await new Promise((r) => ws.once('open', r));
let lastId = 0;
const waiting = new Map<number, (result: unknown) => void>();
ws.on('message', (data) => {
  const m = JSON.parse(String(data)) as { id?: number; result?: unknown };
  if (m.id !== undefined) waiting.get(m.id)?.(m.result);
});
const call = <T>(method: string, params: Record<string, unknown> = {}) =>
  new Promise<T>((resolve) => {
    const id = ++lastId;
    waiting.set(id, resolve as (r: unknown) => void);
    ws.send(JSON.stringify({ id, method, params }));
  });

await sleep(afterMs);
await call('HeapProfiler.enable');
await call('HeapProfiler.startSampling', { samplingInterval: Number(process.env['ALLOC_INTERVAL'] ?? 2048), includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !survivors });
await sleep(forMs);
const { profile } = await call<{ profile: { head: SampleNode } }>('HeapProfiler.stopSampling');
ws.close();

const bySite = new Map<string, number>();
let total = 0;
const walk = (n: SampleNode, callers: string[]): void => {
  const name = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|dist|node_modules|bench)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  total += n.selfSize;
  if (n.selfSize > 0) {
    const site = [name, ...callers.slice(-2).reverse()].join(' < ');
    bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
  }
  for (const c of n.children) walk(c, [...callers, name]);
};
walk(profile.head, []);
console.log(`${(total / 1e6).toFixed(1)} MB ${survivors ? 'promoted (outlived the young generation)' : 'allocated'} in ${forMs} ms (sampled)`);
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${((bytes / total) * 100).toFixed(1).padStart(5)}%  ${site}`);
