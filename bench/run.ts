/**
 * `npm run bench [-- --quick] [-- --only saturation,latency,storm]`:
 * measures the relay against baselines in one run, on this machine, and
 * reports ratios. Every server under test runs on CPU 0 and the load
 * generators on CPU 1 (taskset); every target gets the same load from the
 * same lean WebSocket client. Traffic goes to 127.0.0.1 only and every loop
 * is bounded in time and count.
 *
 * Baselines: a bare uWebSockets.js forwarder (parse, lookup, send, ack: the
 * ceiling of this stack) and a socket.io relay doing the same routing (what
 * people build instead). Results: bench/results/latest.{json,md,svg}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Target } from './load/dialects.ts';
import { latencyChart } from './lib/chart.ts';
import { root } from './lib/processes.ts';
import { targetNames } from './lib/targets.ts';
import { connectStorm, type StormResult } from './scenarios/connect-storm.ts';
import { latencySweep, saturation, type PairsConfig, type PairsResult } from './scenarios/pairs.ts';

const quick = process.argv.includes('--quick');
const onlyArg = process.argv[process.argv.indexOf('--only') + 1];
const only = process.argv.includes('--only') && onlyArg ? new Set(onlyArg.split(',')) : undefined;
const wants = (s: string) => !only || only.has(s);

const pairsCfg: PairsConfig = { pairs: 50, workers: 2, window: 32, warmupMs: quick ? 1500 : 3000, measureMs: quick ? 4000 : 10000 };
const latencyCfg: PairsConfig = { ...pairsCfg, warmupMs: quick ? 1000 : 2000, measureMs: quick ? 3000 : 6000 };
const runs = quick ? 1 : 3;
const rates = quick ? [5_000, 20_000] : [2_000, 5_000, 10_000, 20_000, 30_000];
const stormSize = quick ? 5_000 : 10_000;
const targets: Target[] = ['bare', 'socketio', 'relay'];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const started = Date.now();
const log = (s: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${s}`);
const fmt = (n: number | null, digits = 0) => (n === null ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;

const sat: Partial<Record<Target, { msgPerSec: number; generatorCpu: number; runs: number[] }>> = {};
if (wants('saturation')) {
  for (const t of targets) {
    const rs: PairsResult[] = await saturation(t, pairsCfg, runs);
    sat[t] = { msgPerSec: median(rs.map((r) => r.msgPerSec)), generatorCpu: median(rs.map((r) => r.generatorCpu)), runs: rs.map((r) => Math.round(r.msgPerSec)) };
    log(`saturation ${t}: ${fmt(sat[t].msgPerSec)} msg/s (runs ${sat[t].runs.join(', ')})`);
  }
}

const lat: Partial<Record<Target, (PairsResult & { offered: number })[]>> = {};
if (wants('latency')) {
  for (const t of targets) {
    lat[t] = await latencySweep(t, latencyCfg, rates);
    log(`latency ${t}: ${lat[t].map((r) => `${r.offered / 1000}k → p99 ${fmt(r.p99, 2)} ms`).join(', ')}`);
  }
}

const storm: Partial<Record<Target, StormResult>> = {};
if (wants('storm')) {
  for (const t of targets) {
    storm[t] = await connectStorm(t, stormSize, 2, 64);
    log(`storm ${t}: ${fmt(storm[t].connectsPerSec)} connects/s, ${fmt(storm[t].rssPerConnection / 1024, 1)} KiB per idle connection, ${storm[t].failed} failed`);
  }
}

// ---- report ----
const md: string[] = [
  `# Benchmark (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}`,
  '',
  `Server on CPU 0, load generators (2 processes, lean RFC 6455 client) on CPU 1. Relay database: ${process.env['DATABASE_URL'] ? 'Postgres' : 'PGlite'}. Wall time ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  '',
];
const targetsMet: string[] = [];
const check = (name: string, ok: boolean, detail: string) => targetsMet.push(`| ${name} | ${detail} | ${ok ? 'met' : '**missed**'} |`);

if (sat.relay && sat.bare && sat.socketio) {
  md.push(
    `## 1:1 pairs at saturation`,
    '',
    `${pairsCfg.pairs} pairs, ${pairsCfg.window} sends in flight per sender, every delivery acked; ${pairsCfg.measureMs / 1000} s measured after ${pairsCfg.warmupMs / 1000} s, median of ${runs}.`,
    '',
    '| target | delivered msg/s | runs | generator CPU (cores) |',
    '|---|---|---|---|',
    ...targets.map((t) => `| ${targetNames[t]} | ${fmt(sat[t]!.msgPerSec)} | ${sat[t]!.runs.join(', ')} | ${sat[t]!.generatorCpu.toFixed(2)} |`),
    '',
    `Relay: **${pct(sat.relay.msgPerSec, sat.bare.msgPerSec)}** of the bare forwarder, **${(sat.relay.msgPerSec / sat.socketio.msgPerSec).toFixed(2)}x** the socket.io relay.`,
    '',
  );
  check('throughput ≥ 50% of bare uWS', sat.relay.msgPerSec >= 0.5 * sat.bare.msgPerSec, pct(sat.relay.msgPerSec, sat.bare.msgPerSec));
  check('throughput ≥ 2x socket.io', sat.relay.msgPerSec >= 2 * sat.socketio.msgPerSec, `${(sat.relay.msgPerSec / sat.socketio.msgPerSec).toFixed(2)}x`);
}

if (lat.relay && lat.bare && lat.socketio) {
  md.push(
    `## Latency at a fixed offered rate`,
    '',
    `Open loop: the generators send on a fixed schedule whatever the answers; latency is send to deliver, measured by the generator. ${latencyCfg.measureMs / 1000} s per rate after ${latencyCfg.warmupMs / 1000} s.`,
    '',
    '| offered msg/s | target | delivered msg/s | p50 ms | p99 ms | p99.9 ms | generator CPU |',
    '|---|---|---|---|---|---|---|',
    ...rates.flatMap((rate, i) => targets.map((t) => {
      const r = lat[t]![i]!;
      return `| ${fmt(rate)} | ${targetNames[t]} | ${fmt(r.msgPerSec)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.p999, 2)} | ${r.generatorCpu.toFixed(2)} |`;
    })),
    '',
    '![p99 latency against offered load](latest.svg)',
    '',
  );
  const at20 = lat.relay.find((r) => r.offered === 20_000);
  if (at20) check('p99 at 20k msg/s < 5 ms', at20.p99 !== null && at20.p99 < 5 && at20.msgPerSec > 0.95 * 20_000, `${fmt(at20.p99, 2)} ms (delivered ${fmt(at20.msgPerSec)} msg/s)`);
}

if (storm.relay && storm.bare && storm.socketio) {
  md.push(
    `## Connect storm and idle memory`,
    '',
    `${fmt(stormSize)} connections, 64 handshakes in flight per generator; each is its own user, token verified at the handshake (the bare forwarder checks none). Then every device gets ready (the relay: registered as primary, backlog drained) and the server's RSS is read with all of them idle.`,
    '',
    '| target | connects/s | RSS per idle connection | failed | generator CPU |',
    '|---|---|---|---|---|',
    ...targets.map((t) => `| ${targetNames[t]} | ${fmt(storm[t]!.connectsPerSec)} | ${fmt(storm[t]!.rssPerConnection / 1024, 2)} KiB | ${storm[t]!.failed} | ${storm[t]!.generatorCpu.toFixed(2)} |`),
    '',
  );
  check('connect rate ≥ 50% of bare uWS', storm.relay.connectsPerSec >= 0.5 * storm.bare.connectsPerSec, pct(storm.relay.connectsPerSec, storm.bare.connectsPerSec));
  check('RSS per idle connection < 4 KiB', storm.relay.rssPerConnection < 4096, `${fmt(storm.relay.rssPerConnection / 1024, 2)} KiB`);
}

if (targetsMet.length) md.push('## Targets', '', '| target | relay | |', '|---|---|---|', ...targetsMet, '');

const dir = path.join(root, 'bench/results');
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'latest.json'), JSON.stringify({ quick, pairsCfg, latencyCfg, rates, stormSize, saturation: sat, latency: lat, storm }, null, 2));
writeFileSync(path.join(dir, 'latest.md'), `${md.join('\n')}\n`);
if (lat.relay) {
  writeFileSync(
    path.join(dir, 'latest.svg'),
    latencyChart(
      targets.filter((t) => lat[t]).map((t) => ({ name: targetNames[t], points: lat[t]!.map((r) => ({ x: r.offered, y: r.p99 })) })),
      'p99 latency against offered load',
    ),
  );
}
console.log(`\n${md.join('\n')}`);
