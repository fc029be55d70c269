import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ChaosCluster } from './chaos-cluster.ts';
import { chaosToken, seenCounter } from './run-kit.ts';
import { ChaosPair } from './chaos-pair.ts';
import { planFaults, type Fault } from './fault-plan.ts';
import { Ledger } from './ledger.ts';

/**
 * `npm run chaos [-- --seconds 180 --seed N --nodes 3 --pairs 12 --rate 20 --json F --logs F]`:
 * steady traffic between pairs of devices on different relay nodes while
 * a seeded schedule of faults hits the nodes, Redis and Postgres (all
 * private to the run, on loopback), then an account of every message.
 * Exits 1 if any message with a sent_ack never arrived, 3 if none was lost
 * but some arrived out of the order the relay stored them in, 2 if the run
 * itself failed.
 */
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '180' },
    seed: { type: 'string' },
    nodes: { type: 'string', default: '3' },
    pairs: { type: 'string', default: '12' },
    rate: { type: 'string', default: '20' },
    gap: { type: 'string' },
    json: { type: 'string' },
    logs: { type: 'string' },
  },
});
const durationMs = Number(values.seconds) * 1000;
const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
const nodes = Number(values.nodes);
const pairsN = Number(values.pairs);
const rate = Number(values.rate);
const gapMs = values.gap === undefined ? Math.max(3000, Math.min(8000, durationMs / 25)) : Number(values.gap);
const plan = planFaults({ durationMs, seed, nodes, pairs: pairsN, gapMs });
const t0 = Date.now();
const elapsed = () => Date.now() - t0;
const say = (line: string) => process.stdout.write(`[${(elapsed() / 1000).toFixed(1)}s] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

say(`chaos: ${values.seconds} s, seed ${seed}, ${nodes} nodes, ${pairsN} pairs at ${rate} msg/s each, ${plan.length} faults`);
const cluster = await ChaosCluster.start(nodes);
const token = chaosToken;
const seen = seenCounter();
const bump = seen.bump;
const ledger = new Ledger(pairsN);
const run = `c${seed}x`;
const pairs = Array.from({ length: pairsN }, (_, index) => new ChaosPair({ index, run, urls: cluster.urls(), rate, token, ledger, now: elapsed, onClose: bump, onError: (c) => bump(`error ${c}`) }));
let exitCode = 2;
// Interrupted: the private Redis, Postgres and nodes go too, never left running.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const p of pairs) p.stop();
    void cluster.stop().finally(() => process.exit(130));
  });
}
const applied: (Fault & { startedAt: number; healedAt: number })[] = [];
try {
  for (const p of pairs) p.start();
  for (let i = 0; !pairs.every((p) => p.sender.ready && p.receiver.ready); i++) {
    if (i > 600) throw new Error('devices did not register within 60 s');
    await sleep(100);
  }
  say('every device registered; traffic starts');
  const trafficStart = elapsed();
  for (const p of pairs) p.startSending();

  for (const f of plan) {
    const wait = trafficStart + f.at - elapsed();
    if (wait > 0) await sleep(wait);
    const startedAt = elapsed();
    say(`fault ${applied.length + 1}: ${f.kind} on ${f.kind === 'slow_consumer' ? 'pair' : 'node'} ${f.target}, ${f.downMs} ms`);
    await inflict(f);
    applied.push({ ...f, startedAt, healedAt: elapsed() });
  }
  const left = trafficStart + durationMs - elapsed();
  if (left > 0) await sleep(left);
  for (const p of pairs) p.stopSending();
  say('traffic stops; waiting for every sent_ack and every acked message');
  for (let i = 0; i < 300 && pairs.some((p) => p.unacked.size > 0); i++) await sleep(100);
  for (let i = 0; i < 600 && ledger.outstanding() > 0; i++) await sleep(100);
  const s = ledger.summary();
  const unackedAtEnd = pairs.reduce((n, p) => n + p.unacked.size, 0);
  const recoveries = applied.map((f) => {
    const firsts = pairs.map((_, i) => ledger.firstDeliveryAfter(i, f.healedAt));
    return firsts.every((t) => t !== undefined) ? Math.max(...firsts.map((t) => t! - f.healedAt)) : undefined;
  });
  const lines = [
    '',
    `## Chaos run: seed ${seed}, ${values.seconds} s of traffic, ${nodes} nodes, ${pairsN} pairs at ${rate} msg/s`,
    '',
    '| # | at (s) | fault | target | down (ms) | recovered after (s) |',
    '|---|---|---|---|---|---|',
    ...applied.map(
      (f, i) =>
        `| ${i + 1} | ${((f.startedAt - trafficStart) / 1000).toFixed(1)} | ${f.kind} | ${f.target} | ${f.downMs} | ${recoveries[i] === undefined ? 'not by the end' : (recoveries[i]! / 1000).toFixed(2)} |`,
    ),
    '',
    '| sent | acked | delivered | lost | duplicates | order breaks | never acked |',
    '|---|---|---|---|---|---|---|',
    `| ${s.sent} | ${s.acked} | ${s.delivered} | **${s.lost}** | ${s.duplicates} | ${s.orderBreaks} | ${unackedAtEnd} |`,
    '',
    `Seen by the clients: ${seen.describe()}`,
    s.lost > 0 ? `Lost (pair:seq): ${s.lostSample.join(', ')}` : '',
    s.orderBreaks > 0 ? `Order breaks: ${s.breakSample.map((b) => `pair ${b.pair} got ${b.early} at ${((b.at - trafficStart) / 1000).toFixed(1)} s before ${b.passed}`).join('; ')}` : '',
    s.orderBreaks > 0
      ? [
          'Traces of the first breaks (run clock, s):',
          ...s.breakSample.slice(0, 5).flatMap((b) => [`- pair ${b.pair}, ${b.early}: ${b.earlyTrace.join('; ')}`, `  passed ${b.passed}: ${b.passedTrace.join('; ')}`]),
        ].join('\n')
      : '',
    '"Recovered after": from the end of the fault until every pair had delivered a message sent after it.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ seed, durationMs, nodes, pairs: pairsN, rate, faults: applied, recoveries, summary: s, unackedAtEnd, seen: seen.describe() }, null, 2));
  exitCode = s.lost > 0 ? 1 : s.orderBreaks > 0 ? 3 : 0;
  if (exitCode !== 0)
    process.stdout.write(
      `${cluster
        .logs()
        .filter((l) => l.includes('"level":"error"') || l.includes('"level":"warn"'))
        .slice(-40)
        .join('\n')}\n`,
    );
} catch (err) {
  process.stdout.write(`chaos run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
} finally {
  if (values.logs) writeFileSync(values.logs, `${cluster.logs().join('\n')}\n`);
  for (const p of pairs) p.stop();
  await cluster.stop();
}
process.exit(exitCode);

async function inflict(f: Fault): Promise<void> {
  switch (f.kind) {
    case 'node_kill':
      await cluster.killNode(f.target, 'SIGKILL');
      await sleep(f.downMs);
      return cluster.startNode(f.target);
    case 'node_drain':
      await cluster.killNode(f.target, 'SIGTERM');
      await sleep(f.downMs);
      return cluster.startNode(f.target);
    case 'node_pause':
      cluster.signalNode(f.target, 'SIGSTOP');
      await sleep(f.downMs);
      return cluster.signalNode(f.target, 'SIGCONT');
    case 'redis_kill':
      await cluster.redis.kill();
      await sleep(f.downMs);
      return cluster.redis.restart();
    case 'redis_pause':
      cluster.redis.pause();
      await sleep(f.downMs);
      return cluster.redis.resume();
    case 'postgres_stop':
      await cluster.postgres.crash();
      await sleep(f.downMs);
      return cluster.postgres.restart();
    case 'postgres_pause':
      cluster.postgres.pause();
      await sleep(f.downMs);
      return cluster.postgres.resume();
    case 'slow_consumer':
      pairs[f.target]!.receiver.stall(f.downMs);
      await sleep(f.downMs);
      return;
    case 'reconnect_storm':
      for (const p of pairs) {
        p.sender.drop();
        p.receiver.drop();
      }
      return;
  }
}
