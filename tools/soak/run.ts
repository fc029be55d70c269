import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ChaosDevice } from '../chaos/chaos-device.ts';
import { ChaosPair } from '../chaos/chaos-pair.ts';
import { CHAOS_SECRET } from '../chaos/chaos-cluster.ts';
import { chaosToken, seenCounter } from '../chaos/run-kit.ts';
import { seededRandom } from '../chaos/fault-plan.ts';
import { Ledger } from '../chaos/ledger.ts';
import { sample, scrape } from '../metrics-scrape.ts';
import { residentByKind } from '../process-memory.ts';
import { startRelay, tempDir } from '../relay-process.ts';
import { startThrowawayPostgres } from '../throwaway-postgres.ts';
import { defaultBounds, judge, type Sample } from './growth.ts';
import { soakChart } from './soak-chart.ts';

/**
 * `npm run soak [-- --minutes 30 --pairs 20 --rate 10]`: steady mixed
 * traffic against one relay node on a private Postgres (1:1 messages
 * between mutual contacts, typing, devices dropping and coming back, so
 * presence changes, and short-lived devices connecting and leaving), sampling its RSS, heap, event-loop lag and
 * write queue every 10 s from /metrics. Fails (exit 1) if memory grows
 * faster than the bounds in growth.ts after the warm-up, the write queue
 * kept growing, or a message with a sent_ack was lost. Writes the table
 * and an SVG of the memory beside it under bench/results/.
 */
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    pairs: { type: 'string', default: '20' },
    rate: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    // KEY=VALUE for the relay's environment, repeatable (MALLOC_ARENA_MAX=2, say, to compare allocators).
    env: { type: 'string', multiple: true, default: [] },
  },
});
const extraEnv = Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const durationMs = Number(values.minutes) * 60_000;
const pairsN = Number(values.pairs);
const rate = Number(values.rate);
const random = seededRandom(Number(values.seed));
const t0 = Date.now();
const elapsed = () => Date.now() - t0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stdout.write(`[${(elapsed() / 1000).toFixed(0)}s] ${line}\n`);

const pg = await startThrowawayPostgres('soak');
const relay = await startRelay({
  DATABASE_URL: pg.url,
  JWT_SECRET: CHAOS_SECRET,
  DATA_DIR: tempDir('soak'),
  RATE_MESSAGES_PER_SECOND: '1000',
  RATE_MESSAGES_BURST: '1000',
  RATE_FRAMES_PER_SECOND: '10000',
  RATE_FRAMES_BURST: '10000',
  ...extraEnv,
}).catch(async (err: unknown) => {
  await pg.stop();
  throw err;
});
const token = chaosToken;
const seen = seenCounter();
const bump = seen.bump;
const ledger = new Ledger(pairsN);
const pairs = Array.from(
  { length: pairsN },
  (_, index) => new ChaosPair({ index, run: 'soak', urls: [relay.url], rate, token, ledger, now: elapsed, onClose: bump, onError: (c) => bump(`error ${c}`) }),
);
const samples: Sample[] = [];
const timers: NodeJS.Timeout[] = [];
let exitCode = 2;
// Interrupted: the relay and the private Postgres go too, never left running.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const p of pairs) p.stop();
    void relay
      .stop('SIGKILL')
      .then(() => pg.stop())
      .finally(() => process.exit(130));
  });
}
try {
  say(`soak: ${values.minutes} min, ${pairsN} pairs at ${rate} msg/s, one relay on a private Postgres`);
  for (const p of pairs) p.start();
  while (!pairs.every((p) => p.sender.ready && p.receiver.ready)) await sleep(100);
  // Each pair are mutual contacts, so every drop and return below is a presence change the other side is told of.
  for (const p of pairs) {
    p.sender.send({ type: 'contact_add', payload: { user_id: p.receiverUser } });
    p.receiver.send({ type: 'contact_add', payload: { user_id: p.senderUser } });
  }
  for (const p of pairs) p.startSending();
  let churned = 0;
  let typing = false;
  timers.push(
    // Typing on and off, every pair, every 2 s.
    setInterval(() => {
      typing = !typing;
      for (const p of pairs) p.sender.send({ type: 'typing', payload: { to: p.receiverUser, conversation_id: 'soak', is_typing: typing } });
    }, 2000),
    // A device drops its socket (no close handshake) and comes back, every 5 s.
    setInterval(() => {
      const p = pairs[Math.floor(random() * pairs.length)]!;
      (random() < 0.5 ? p.sender : p.receiver).drop();
    }, 5000),
    // A short-lived device: connects, registers, leaves after a second.
    setInterval(() => {
      const user = `soakchurn${churned++}`;
      const d = new ChaosDevice({ user, device: 'd1', urls: [relay.url], first: 0, token: () => token(user, 'd1'), onFrame: () => {}, onReady: () => {}, onClose: () => {} });
      d.start();
      setTimeout(() => d.stop(), 1000).unref();
    }, 2000),
  );
  const byKind = () => {
    const k = residentByKind(relay.child.pid!);
    return { brkMiB: k.brk / 2 ** 20, anonMiB: k.anon / 2 ** 20, fileMiB: k.file / 2 ** 20 };
  };
  const read = async () => {
    const m = await scrape(relay.metricsPort);
    samples.push({
      t: elapsed() / 1000,
      rssMiB: sample(m, 'relay_process_resident_memory_bytes') / 2 ** 20,
      heapMiB: sample(m, 'relay_nodejs_heap_size_used_bytes') / 2 ** 20,
      heapTotalMiB: sample(m, 'relay_nodejs_heap_size_total_bytes') / 2 ** 20,
      externalMiB: sample(m, 'relay_nodejs_external_memory_bytes') / 2 ** 20,
      ...byKind(),
      loopLagMs: sample(m, 'relay_event_loop_lag_seconds') * 1000,
      writeQueue: sample(m, 'relay_write_queue_depth'),
    });
  };
  await read();
  while (elapsed() < durationMs) {
    await sleep(Math.min(10_000, durationMs - elapsed()));
    await read();
    if (samples.length % 6 === 0) say(`RSS ${samples.at(-1)!.rssMiB.toFixed(0)} MiB, heap ${samples.at(-1)!.heapMiB.toFixed(0)} MiB, acked ${ledger.summary().acked}`);
  }
  for (const t of timers) clearInterval(t);
  for (const p of pairs) p.stopSending();
  for (let i = 0; i < 300 && pairs.some((p) => p.unacked.size > 0); i++) await sleep(100);
  for (let i = 0; i < 600 && ledger.outstanding() > 0; i++) await sleep(100);
  const s = ledger.summary();
  const v = judge(samples);
  const from = (samples.at(-1)?.t ?? 0) * defaultBounds.warmupShare;
  const kept = samples.filter((x) => x.t >= from);
  const at = kept.length ? kept.reduce((n, x) => n + x.rssMiB, 0) / kept.length - (v.rssMiBPerHour / 3600) * (kept.reduce((n, x) => n + x.t, 0) / kept.length - from) : 0;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = path.resolve(import.meta.dirname, '../../bench/results');
  mkdirSync(dir, { recursive: true });
  const svg = path.join(dir, `soak-${stamp}.svg`);
  writeFileSync(
    svg,
    soakChart(samples, { from, slopePerSecond: v.rssMiBPerHour / 3600, at }, `Soak: ${values.minutes} min, ${pairsN} pairs at ${rate} msg/s; RSS ${v.rssMiBPerHour.toFixed(1)} MiB/h after warm-up`),
  );
  const lines = [
    '',
    `## Soak: ${values.minutes} min, ${pairsN} pairs at ${rate} msg/s, typing, drops and churn`,
    '',
    `Relay environment added: ${values.env.length ? values.env.join(' ') : 'none'}`,
    '',
    '| minute | RSS (MiB) | heap used (MiB) | heap total (MiB) | external (MiB) | malloc arena, anonymous mappings, file pages (MiB) | loop lag (ms) | write queue |',
    '|---|---|---|---|---|---|---|---|',
    ...samples
      .filter((_, i) => i % 6 === 0 || i === samples.length - 1)
      .map(
        (x) =>
          `| ${(x.t / 60).toFixed(1)} | ${x.rssMiB.toFixed(1)} | ${x.heapMiB.toFixed(1)} | ${(x.heapTotalMiB ?? 0).toFixed(1)} | ${(x.externalMiB ?? 0).toFixed(1)} | ${[x.brkMiB, x.anonMiB, x.fileMiB].map((v) => (v ?? 0).toFixed(1)).join(', ')} | ${x.loopLagMs.toFixed(1)} | ${x.writeQueue} |`,
      ),
    '',
    `After the first ${defaultBounds.warmupShare * 100}%: RSS ${v.rssMiBPerHour.toFixed(1)} MiB/h (bound ${defaultBounds.rssMiBPerHour}), heap ${v.heapMiBPerHour.toFixed(1)} MiB/h (bound ${defaultBounds.heapMiBPerHour}); most loop lag ${v.maxLoopLagMs.toFixed(1)} ms; write queue at the end ${v.writeQueueAtEnd}.`,
    `Messages: sent ${s.sent}, acked ${s.acked}, delivered ${s.delivered}, lost **${s.lost}**, duplicates ${s.duplicates}, order breaks ${s.orderBreaks}; ${churned} short-lived devices.`,
    `Seen by the clients: ${seen.describe()}`,
    `Plot: ${path.relative(process.cwd(), svg)}`,
    v.failures.length ? `FAILED: ${v.failures.join('; ')}` : '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  writeFileSync(svg.replace(/\.svg$/, '.json'), JSON.stringify({ samples, verdict: v, summary: s }, null, 2));
  exitCode = v.failures.length === 0 && s.lost === 0 ? 0 : 1;
} finally {
  for (const t of timers) clearInterval(t);
  for (const p of pairs) p.stop();
  await relay.stop('SIGKILL');
  await pg.stop();
}
process.exit(exitCode);
