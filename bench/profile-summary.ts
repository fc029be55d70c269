/**
 * `npx tsx bench/profile-summary.ts FILE.cpuprofile [N]`: self time per
 * function (top N, default 40) and time per source file, from a V8 CPU
 * profile written by `node --cpu-prof`.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
const [file, topArg] = process.argv.slice(2);
const prof = JSON.parse(readFileSync(file!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
const perFile = new Map<string, number>();
let total = 0;
prof.samples.forEach((id, i) => {
  const dt = prof.timeDeltas[i] ?? 0;
  const n = byId.get(id)!;
  const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/');
  const key = `${n.callFrame.functionName || '(anonymous)'}  ${url}:${n.callFrame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + dt);
  const f = url.replace(/:\d+$/, '') || n.callFrame.functionName;
  perFile.set(f, (perFile.get(f) ?? 0) + dt);
  total += dt;
});
const show = (m: Map<string, number>, n: number) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
console.log(`total ${(total / 1e6).toFixed(1)} s sampled\n\n== self time by function ==\n${show(self, Number(topArg ?? 40))}\n\n== by file ==\n${show(perFile, 25)}`);
