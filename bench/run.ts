/**
 * `npm run bench [-- --quick] [-- --only saturation,fanout,group,backlog,latency,cross,cross-cluster,storm] [-- --push]`:
 * measures the relay against baselines in one run, on this machine, and
 * reports ratios. Every server under test runs on CPU 0 and the load
 * generators and this runner on CPU 1 (taskset); every target gets the same load from the
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
import { benchRedis } from './lib/redis.ts';
import { median, medianBy } from './lib/stats.ts';
import { hasRealtime, pinRunner, root } from './lib/processes.ts';
import { targetNames } from './lib/targets.ts';
import { enablePush } from './lib/push-endpoint.ts';
import { hasRedisCluster, startThrowawayRedisCluster } from '../tools/throwaway-redis-cluster.ts';
import { backlogDrain, type BacklogResult } from './scenarios/backlog.ts';
import { connectStorm, type StormResult } from './scenarios/connect-storm.ts';
import { fanOut, groupFanOut, latencySweep, saturation, type PairsConfig, type PairsResult, type WriteStats } from './scenarios/pairs.ts';

const quick = process.argv.includes('--quick');
const onlyArg = process.argv[process.argv.indexOf('--only') + 1];
const only = process.argv.includes('--only') && onlyArg ? new Set(onlyArg.split(',')) : undefined;
const wants = (s: string) => !only || only.has(s);

const windowArg = process.argv[process.argv.indexOf('--window') + 1];
// Quick runs measure 3 s per load and 2 s per latency rate (the probe still reads 2,000 messages), so that
// the whole quick run, ten thousand registrations in the relay's storm included, stays under 3 minutes here.
const pairsCfg: PairsConfig = {
  pairs: 50,
  workers: 2,
  window: process.argv.includes('--window') && windowArg ? Number(windowArg) : 32,
  warmupMs: quick ? 1000 : 3000,
  measureMs: quick ? 3000 : 10000,
};
const latencyCfg: PairsConfig = { ...pairsCfg, warmupMs: quick ? 1000 : 2000, measureMs: quick ? 2000 : 6000, probe: { pairs: 10, rate: 1000 } };
const runsArg = process.argv[process.argv.indexOf('--runs') + 1];
const runs = process.argv.includes('--runs') && runsArg ? Number(runsArg) : quick ? 1 : 3;
// --rates 20000,30000 narrows the latency sweep to those offered rates.
const ratesArg = process.argv[process.argv.indexOf('--rates') + 1];
const rates = process.argv.includes('--rates') && ratesArg ? ratesArg.split(',').map(Number) : quick ? [5_000, 20_000] : [2_000, 5_000, 10_000, 20_000, 30_000, 40_000];
// Memory per connection is read over 10k connections at least, in quick runs too.
const stormSize = 10_000;
// --targets relay,bare narrows a run while working on one of them; the report then leaves out the ratios it cannot make.
const targetsArg = process.argv[process.argv.indexOf('--targets') + 1];
const targets: Target[] = process.argv.includes('--targets') && targetsArg ? (targetsArg.split(',') as Target[]) : ['bare', 'socketio', 'relay'];

pinRunner();
// --push: the relay runs with a webhook push target for every device (bench/lib/push-endpoint.ts).
const push = process.argv.includes('--push') ? await enablePush() : undefined;
const started = Date.now();
const log = (s: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${s}`);
const fmt = (n: number | null, digits = 0) => (n === null ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;

type Sat = { msgPerSec: number; generatorCpu: number; serverCpu: number; runs: number[]; writes?: WriteStats };
/** Medians of the runs; the write figures are those of the median run. */
const summarise = (rs: PairsResult[]): Sat => {
  const mid = medianBy(rs, (r) => r.msgPerSec);
  return {
    msgPerSec: mid.msgPerSec,
    generatorCpu: median(rs.map((r) => r.generatorCpu)),
    serverCpu: median(rs.map((r) => r.serverCpu)),
    runs: rs.map((r) => Math.round(r.msgPerSec)),
    ...(mid.writes ? { writes: mid.writes } : {}),
  };
};
/** How the relay's group commit behaved, in words. */
const writesLine = (w: WriteStats | undefined) =>
  w
    ? `Relay's Postgres writes: ${fmt(w.batches)} batches, ${fmt(w.opsPerBatch, 1)} operations per batch, ${fmt(w.opsPerMessage, 2)} written operations per delivered message (an insert and a delete each for the message and its status_update when nothing is acked in time: 4).${w.publishesPerMessage > 0 ? ` Bus: ${fmt(w.publishesPerMessage, 2)} publishes and ${fmt(w.busBytesPerMessage, 0)} payload bytes per delivered message.` : ''}`
    : '';

/**
 * Runs `measure` for every target, `runs` rounds, the targets taking turns
 * within each round: this machine is shared, and its speed drifts over
 * minutes, so a target measured only in one stretch of time would be
 * compared with baselines measured in another.
 */
async function interleaved(name: string, ts: Target[], measure: (t: Target) => Promise<PairsResult>): Promise<Partial<Record<Target, Sat>>> {
  const all = new Map<Target, PairsResult[]>(ts.map((t) => [t, []]));
  for (let i = 0; i < runs; i++) for (const t of ts) all.get(t)!.push(await measure(t));
  const out: Partial<Record<Target, Sat>> = {};
  for (const t of ts) {
    out[t] = summarise(all.get(t)!);
    const w = out[t].writes;
    log(
      `${name} ${t}: ${fmt(out[t].msgPerSec)} msg/s (runs ${out[t].runs.join(', ')}, server CPU ${out[t].serverCpu.toFixed(2)})${w ? `, ${fmt(w.opsPerMessage, 2)} writes/msg, ${fmt(w.opsPerBatch, 0)} ops/batch` : ''}`,
    );
  }
  return out;
}

/**
 * A baseline whose server had CPU to spare while its generators used a
 * whole core was held back by the generators: it is not the ceiling it
 * stands for, and a ratio to it is overstated. Says so in the report.
 */
const heldBack = (b: Sat, name: string): string[] =>
  b.serverCpu < 0.9 && b.generatorCpu >= 0.95
    ? [`The ${name}'s server used ${b.serverCpu.toFixed(2)} of its core while its generators used ${b.generatorCpu.toFixed(2)}: the generators held it back, so the ratio to it is overstated.`, '']
    : [];

let sat: Partial<Record<Target, Sat>> = {};
if (wants('saturation')) sat = await interleaved('saturation', targets, (t) => saturation(t, pairsCfg));

const fanDevices = 4;
let fan: Partial<Record<Target, Sat>> = {};
if (wants('fanout')) {
  if (process.env['DATABASE_URL']) fan = await interleaved('fan-out', targets, (t) => fanOut(t, pairsCfg, fanDevices));
  else log("fan-out skipped: it seeds the relay's devices in Postgres; set DATABASE_URL");
}

// A 20-member group: one group send per message against a single send to each member, runs alternating.
const groupSize = 20;
const groupModes = ['group', 'singles'] as const;
const group: Partial<Record<(typeof groupModes)[number], Sat>> = {};
if (wants('group')) {
  if (process.env['DATABASE_URL']) {
    const all = new Map(groupModes.map((m) => [m, [] as PairsResult[]]));
    for (let i = 0; i < runs; i++) for (const m of groupModes) all.get(m)!.push(await groupFanOut(pairsCfg, groupSize, m));
    for (const m of groupModes) {
      group[m] = summarise(all.get(m)!);
      log(`group ${m}: ${fmt(group[m].msgPerSec)} deliveries/s (runs ${group[m].runs.join(', ')}, server CPU ${group[m].serverCpu.toFixed(2)})`);
    }
  } else log("group fan-out skipped: it seeds the relay's devices in Postgres; set DATABASE_URL");
}

const backlogPairs = 50;
const backlogPerPair = quick ? 400 : 1000;
let backlog: BacklogResult | undefined;
if (wants('backlog')) {
  backlog = await backlogDrain(backlogPairs, backlogPerPair, 2);
  log(`backlog: stored ${fmt(backlog.storedPerSec)} msg/s offline, drained ${fmt(backlog.drainedPerSec)} msg/s (${backlog.drained}/${backlog.stored})`);
}

const lat: Partial<Record<Target, (PairsResult & { offered: number })[]>> = {};
if (wants('latency')) {
  for (const t of targets) {
    lat[t] = await latencySweep(t, latencyCfg, rates);
    log(
      `latency ${t}: ${lat[t].map((r) => `${r.offered / 1000}k → p99 ${fmt(r.p99, 2)} ms (generators ${fmt(r.loadP99 ?? null, 2)}${r.refusedPerSec > 0 ? `, delivered ${fmt(r.msgPerSec)}, refused ${fmt(r.refusedPerSec)} msg/s` : ''})`).join(', ')}`,
    );
  }
}

const crossTargets: Target[] = ['naive-redis', 'relay'];
let cross: Partial<Record<Target, Sat>> = {};
let crossRedis = '';
if (wants('cross')) {
  const redis = await benchRedis();
  if (!redis || !process.env['DATABASE_URL']) {
    const missing = [redis ? '' : 'redis-server or REDIS_URL', process.env['DATABASE_URL'] ? '' : 'DATABASE_URL (two relay nodes share one Postgres)'].filter(Boolean);
    log(`cross-node skipped: it needs ${missing.join(' and ')}`);
    await redis?.stop();
  } else {
    crossRedis = redis.origin;
    try {
      cross = await interleaved('cross-node', crossTargets, (t) => saturation(t, pairsCfg, { nodes: 2, redisUrl: redis.url }));
    } finally {
      await redis.stop();
    }
  }
}

// The relay's two nodes on one Redis and on a private three-master Redis Cluster (sharded pub/sub), in alternating runs.
const clusterCases = ['one Redis', 'Redis Cluster'] as const;
const crossCluster: Partial<Record<(typeof clusterCases)[number], Sat>> = {};
if (wants('cross-cluster')) {
  if (!process.env['DATABASE_URL'] || !hasRedisCluster) {
    log(`cross-cluster skipped: it needs ${process.env['DATABASE_URL'] ? 'redis-server and redis-cli' : 'DATABASE_URL (two relay nodes share one Postgres)'}`);
  } else {
    const redis = (await benchRedis())!;
    const rc = await startThrowawayRedisCluster(3, 0, 1);
    try {
      const all: Record<(typeof clusterCases)[number], PairsResult[]> = { 'one Redis': [], 'Redis Cluster': [] };
      for (let i = 0; i < runs; i++) {
        all['one Redis'].push(await saturation('relay', pairsCfg, { nodes: 2, redisUrl: redis.url }));
        all['Redis Cluster'].push(await saturation('relay', pairsCfg, { nodes: 2, redisClusterNodes: rc.nodes }));
      }
      for (const c of clusterCases) {
        crossCluster[c] = summarise(all[c]);
        log(`cross-cluster ${c}: ${fmt(crossCluster[c].msgPerSec)} msg/s (runs ${crossCluster[c].runs.join(', ')}), ${fmt(crossCluster[c].writes?.publishesPerMessage ?? 0, 2)} publishes/msg`);
      }
    } finally {
      await rc.stop();
      await redis.stop();
    }
  }
}

/** Medians over the rounds: one reading of RSS growth moves by a few KiB per connection between runs (heap pages kept or returned). */
type Storm = StormResult & { rssRuns: number[] };
const storm: Partial<Record<Target, Storm>> = {};
if (wants('storm')) {
  const all = new Map<Target, StormResult[]>(targets.map((t) => [t, []]));
  for (let i = 0; i < runs; i++) for (const t of targets) all.get(t)!.push(await connectStorm(t, stormSize, 2, 64));
  for (const t of targets) {
    const rs = all.get(t)!;
    storm[t] = {
      connections: median(rs.map((r) => r.connections)),
      failed: rs.reduce((n, r) => n + r.failed, 0),
      connectsPerSec: median(rs.map((r) => r.connectsPerSec)),
      generatorCpu: median(rs.map((r) => r.generatorCpu)),
      rssPerConnection: median(rs.map((r) => r.rssPerConnection)),
      readyPerSec: median(rs.map((r) => r.readyPerSec)),
      rssRuns: rs.map((r) => r.rssPerConnection),
    };
    log(
      `storm ${t}: ${fmt(storm[t].connectsPerSec)} connects/s, ${t === 'relay' ? `${fmt(storm[t].readyPerSec)} registrations/s, ` : ''}${fmt(storm[t].rssPerConnection / 1024, 1)} KiB per idle connection (runs ${storm[t].rssRuns.map((b) => fmt(b / 1024, 1)).join(', ')}), ${storm[t].failed} failed`,
    );
  }
}

// ---- report ----
const md: string[] = [
  `# Benchmark (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}`,
  '',
  `Server on CPU 0, load generators (2 processes, lean RFC 6455 client) on CPU 1. Relay database: ${process.env['DATABASE_URL'] ? 'Postgres' : 'PGlite'}; a single relay node runs without Redis (in-memory bus and presence), the two cross-node ones on a private redis-server. Wall time ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  '',
];
const targetsMet: string[] = [];
/**
 * A target set as a multiple of a baseline can ask for more than this
 * machine gives the relay at all, and the report says so beside a miss.
 * Two ceilings from the same run:
 * - the bare forwarder's rate. Per message the relay handles three frames
 *   in and three out (send, delivery_ack, the ack of its status_update;
 *   sent_ack, deliver, status_update) where the bare forwarder handles two
 *   and two and keeps no state; to pass its rate the relay would have to
 *   handle each frame, checks and storage included, in under two thirds
 *   of the bare forwarder's time for a parse, a lookup and a send.
 * - the relay's own rate on one node, for the cross-node target: a
 *   message between two nodes on one core costs the relay what it costs
 *   on one node, split between them, plus the bus both ways.
 */
const beyondCeiling = (needed: number, ceilings: [Sat | undefined, string][]): string => {
  const over = ceilings.flatMap(([c, name]) => (c && needed > c.msgPerSec ? [`${(needed / c.msgPerSec).toFixed(2)}x ${name}`] : []));
  return over.length ? ` (it asks for ${fmt(needed)} msg/s: ${over.join(', ')})` : '';
};
const bareCeiling: [Sat | undefined, string] = [sat.bare, "the bare forwarder's rate on one node"];
/** One row of the targets table; `ok` undefined when the run gave no usable reading. */
const check = (name: string, ok: boolean | undefined, detail: string) => targetsMet.push(`| ${name} | ${detail} | ${ok === undefined ? 'no reading' : ok ? 'met' : '**missed**'} |`);

if (sat.relay && sat.bare && sat.socketio) {
  md.push(
    `## 1:1 pairs at saturation`,
    '',
    `${pairsCfg.pairs} pairs, ${pairsCfg.window} sends in flight per sender, every delivery acked; ${pairsCfg.measureMs / 1000} s measured after ${pairsCfg.warmupMs / 1000} s, median of ${runs}.`,
    '',
    '| target | delivered msg/s | runs | server CPU (cores) | generator CPU (cores) |',
    '|---|---|---|---|---|',
    ...targets.map((t) => `| ${targetNames[t]} | ${fmt(sat[t]!.msgPerSec)} | ${sat[t]!.runs.join(', ')} | ${sat[t]!.serverCpu.toFixed(2)} | ${sat[t]!.generatorCpu.toFixed(2)} |`),
    '',
    `Relay: **${pct(sat.relay.msgPerSec, sat.bare.msgPerSec)}** of the bare forwarder, **${(sat.relay.msgPerSec / sat.socketio.msgPerSec).toFixed(2)}x** the socket.io relay. ${writesLine(sat.relay.writes)}`,
    '',
    ...heldBack(sat.bare, 'bare forwarder'),
  );
  check('throughput ≥ 50% of bare uWS', sat.relay.msgPerSec >= 0.5 * sat.bare.msgPerSec, pct(sat.relay.msgPerSec, sat.bare.msgPerSec));
  check(
    'throughput ≥ 2x socket.io',
    sat.relay.msgPerSec >= 2 * sat.socketio.msgPerSec,
    `${(sat.relay.msgPerSec / sat.socketio.msgPerSec).toFixed(2)}x${beyondCeiling(2 * sat.socketio.msgPerSec, [bareCeiling])}`,
  );
}

if (lat.relay && lat.bare && lat.socketio) {
  md.push(
    `## Latency at a fixed offered rate`,
    '',
    `Open loop: the generators send on a fixed schedule whatever the answers. Latency is send to deliver, measured by a probe: one more generator process of ${latencyCfg.probe!.pairs} pairs sending ${fmt(latencyCfg.probe!.rate)} msg/s of the offered rate (a quarter of it at most), ${hasRealtime ? "its main thread under SCHED_FIFO on the generators' core, so that it reads each frame as it comes instead of waiting for the load generators' turn" : "**at the load generators' priority: this machine does not allow SCHED_FIFO, so its figures hold their queueing too**"}. The last column is the p99 the load generators saw themselves, their own queueing on a busy core included. Past its capacity the relay refuses a share of sends as \`overloaded\` (admission control, see SECURITY.md); percentiles are those of the messages delivered. ${latencyCfg.measureMs / 1000} s per rate after ${latencyCfg.warmupMs / 1000} s; every generator starts its load at the same moment.`,
    '',
    '| offered msg/s | target | delivered msg/s | refused as overloaded, msg/s | p50 ms | p99 ms | p99.9 ms | server CPU | generator CPU | relay writes per message | p99 seen by the load generators, ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rates.flatMap((rate, i) =>
      targets.map((t) => {
        const r = lat[t]![i]!;
        return `| ${fmt(rate)} | ${targetNames[t]} | ${fmt(r.msgPerSec)} | ${fmt(r.refusedPerSec)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.p999, 2)} | ${r.serverCpu.toFixed(2)} | ${r.generatorCpu.toFixed(2)} | ${r.writes ? fmt(r.writes.opsPerMessage, 2) : ''} | ${fmt(r.loadP99 ?? null, 2)} |`;
      }),
    ),
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
    `${fmt(stormSize)} connections, 64 handshakes in flight per generator; each is its own user, token verified at the handshake (the bare forwarder checks none). Then every device gets ready (the relay: registered as primary, backlog drained) and the server's RSS is read with all of them idle. Median of ${runs}.`,
    '',
    '| target | connects/s | RSS per idle connection | runs (KiB) | failed | generator CPU |',
    '|---|---|---|---|---|---|',
    ...targets.map(
      (t) =>
        `| ${targetNames[t]} | ${fmt(storm[t]!.connectsPerSec)} | ${fmt(storm[t]!.rssPerConnection / 1024, 2)} KiB | ${storm[t]!.rssRuns.map((b) => fmt(b / 1024, 1)).join(', ')} | ${storm[t]!.failed} | ${storm[t]!.generatorCpu.toFixed(2)} |`,
    ),
    '',
    `The relay's devices then registered at ${fmt(storm.relay.readyPerSec)} per second (each a transaction, a device list, a backlog read and a presence lease).`,
    '',
  );
  check('connect rate ≥ 50% of bare uWS', storm.relay.connectsPerSec >= 0.5 * storm.bare.connectsPerSec, pct(storm.relay.connectsPerSec, storm.bare.connectsPerSec));
  // A figure under zero means the server's RSS fell during the storm (the heap gave pages back): it says nothing about the target.
  const rss = storm.relay.rssPerConnection;
  check('RSS per idle connection < 4 KiB', rss > 0 ? rss < 4096 : undefined, `${fmt(rss / 1024, 2)} KiB${rss > 0 ? '' : ' (RSS fell during the storm)'}`);
}

if (fan.relay && fan.bare && fan.socketio) {
  md.push(
    `## Fan-out to ${fanDevices} devices`,
    '',
    `As the 1:1 pairs, but each receiver user has ${fanDevices} devices, each send carries one ciphertext per device (socket.io: one payload to the user's room), and every device acks. Figures are device deliveries per second; median of ${runs}. The relay's receiver devices are created approved in its database beforehand.`,
    '',
    '| target | device deliveries/s | runs | server CPU (cores) | generator CPU (cores) |',
    '|---|---|---|---|---|',
    ...targets.map((t) => `| ${targetNames[t]} | ${fmt(fan[t]!.msgPerSec)} | ${fan[t]!.runs.join(', ')} | ${fan[t]!.serverCpu.toFixed(2)} | ${fan[t]!.generatorCpu.toFixed(2)} |`),
    '',
    `Relay: ${pct(fan.relay.msgPerSec, fan.bare.msgPerSec)} of the bare forwarder, ${(fan.relay.msgPerSec / fan.socketio.msgPerSec).toFixed(2)}x the socket.io relay. ${writesLine(fan.relay.writes)}`,
    '',
    ...heldBack(fan.bare, 'bare forwarder'),
  );
}

if (group.group && group.singles) {
  md.push(
    `## Group of ${groupSize}`,
    '',
    `${pairsCfg.pairs} senders, each writing to ${groupSize} users of its own (one device each, created approved in the relay's database beforehand), every delivery acked. "group": one group send per message, about ${Math.max(1, Math.round(pairsCfg.window / groupSize))} in flight per sender; "singles": one send per member in turn, ${pairsCfg.window} in flight, so both keep about the same number of deliveries in flight. Median of ${runs}, the two taking turns.`,
    '',
    '| how | device deliveries/s | runs | server CPU (cores) | generator CPU (cores) |',
    '|---|---|---|---|---|',
    ...groupModes.map((m) => `| ${m} | ${fmt(group[m]!.msgPerSec)} | ${group[m]!.runs.join(', ')} | ${group[m]!.serverCpu.toFixed(2)} | ${group[m]!.generatorCpu.toFixed(2)} |`),
    '',
    `Group sends deliver **${(group.group.msgPerSec / group.singles.msgPerSec).toFixed(2)}x** as many messages per second as single sends to each member. ${writesLine(group.group.writes)}`,
    '',
  );
}

if (backlog) {
  const against = [
    sat.relay ? `${pct(backlog.drainedPerSec, sat.relay.msgPerSec)} of the relay's online 1:1 rate` : '',
    sat.bare ? `${pct(backlog.drainedPerSec, sat.bare.msgPerSec)} of the bare forwarder's` : '',
  ].filter(Boolean);
  md.push(
    `## Offline backlog drain`,
    '',
    `${backlogPairs} receivers go offline; their senders store ${fmt(backlogPerPair)} messages each (each sent_ack only once the message is committed); then all receivers reconnect at once and read their backlog, acking every message, until queue_empty. Neither baseline stores anything, so the drain is set against online delivery in this run.`,
    '',
    '| phase | messages | msg/s |',
    '|---|---|---|',
    `| store, recipients offline (every message written) | ${fmt(backlog.stored)} | ${fmt(backlog.storedPerSec)} |`,
    `| drain on reconnect (generator CPU ${backlog.generatorCpu.toFixed(2)}) | ${fmt(backlog.drained)} | ${fmt(backlog.drainedPerSec)} |`,
    '',
    ...(against.length ? [`Drain rate: ${against.join(', ')}.`, ''] : []),
  );
}

if (cross.relay && cross['naive-redis']) {
  md.push(
    `## Cross-node delivery through Redis`,
    '',
    `Two nodes of each target on CPU 0 and one Redis (${crossRedis}); senders on the first node, receivers on the second, so every message and every ack crosses Redis. Same load as the 1:1 pairs; median of ${runs}.`,
    '',
    '| target | delivered msg/s | runs | server CPU (cores) | generator CPU (cores) |',
    '|---|---|---|---|---|',
    ...crossTargets.map((t) => `| ${targetNames[t]} | ${fmt(cross[t]!.msgPerSec)} | ${cross[t]!.runs.join(', ')} | ${cross[t]!.serverCpu.toFixed(2)} | ${cross[t]!.generatorCpu.toFixed(2)} |`),
    '',
    writesLine(cross.relay.writes),
    '',
  );
  check(
    'cross-node ≥ 1.5x naive PUBLISH forwarder',
    cross.relay.msgPerSec >= 1.5 * cross['naive-redis'].msgPerSec,
    `${(cross.relay.msgPerSec / cross['naive-redis'].msgPerSec).toFixed(2)}x${beyondCeiling(1.5 * cross['naive-redis'].msgPerSec, [[sat.relay, "the relay's own rate on one node"], bareCeiling])}`,
  );
}

if (crossCluster['one Redis'] && crossCluster['Redis Cluster']) {
  const [one, rc] = [crossCluster['one Redis'], crossCluster['Redis Cluster']];
  md.push(
    '## Cross-node delivery on a Redis Cluster',
    '',
    `The relay's two nodes on CPU 0, senders on the first and receivers on the second, on one redis-server and on a private Redis Cluster of three masters (sharded pub/sub; all on CPU 1), in alternating runs; median of ${runs}.`,
    '',
    '| Redis | delivered msg/s | runs | server CPU (cores) | bus publishes per message | bus bytes per message | Postgres writes per message |',
    '|---|---|---|---|---|---|---|',
    ...clusterCases.map((c) => {
      const x = crossCluster[c]!;
      return `| ${c} | ${fmt(x.msgPerSec)} | ${x.runs.join(', ')} | ${x.serverCpu.toFixed(2)} | ${fmt(x.writes?.publishesPerMessage ?? 0, 2)} | ${fmt(x.writes?.busBytesPerMessage ?? 0, 0)} | ${fmt(x.writes?.opsPerMessage ?? 0, 2)} |`;
    }),
    '',
    `Redis Cluster / one Redis: **${(rc.msgPerSec / one.msgPerSec).toFixed(2)}x**.`,
    '',
  );
}

if (push) {
  md.push(`Run with \`--push\`: every relay device had a webhook push target; the local endpoint received ${fmt(push.pushes())} pushes.`, '');
  push.close();
}
if (targetsMet.length) md.push('## Targets', '', '| target | relay | |', '|---|---|---|', ...targetsMet, '');

const dir = path.join(root, 'bench/results');
mkdirSync(dir, { recursive: true });
writeFileSync(
  path.join(dir, 'latest.json'),
  JSON.stringify({ quick, pairsCfg, latencyCfg, rates, stormSize, saturation: sat, fanOut: fan, group, backlog, latency: lat, crossNode: cross, crossCluster, storm }, null, 2),
);
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
