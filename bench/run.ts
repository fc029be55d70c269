/**
 * `npm run bench [-- --quick]`: measures the relay against baselines in one
 * run, on this machine, and reports ratios. The server under test runs on
 * CPU 0, the load generators on CPU 1 (taskset), and every target gets the
 * same load. Traffic goes to 127.0.0.1 only and every loop is bounded in
 * time. Results: bench/results/latest.json and latest.md.
 *
 * Scenarios so far: 1:1 pairs at saturation. Baseline: a bare uWebSockets.js
 * forwarder (parse, map lookup, send, ack).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { root, runLoad, startServer } from './lib/processes.ts';

const quick = process.argv.includes('--quick');
const secret = 'bench-secret-0123456789abcdef0123456789';
const cfg = { pairs: 50, window: 32, warmupMs: quick ? 2000 : 4000, measureMs: quick ? 5000 : 15000, workers: 2, runs: quick ? 1 : 3 };

interface LoadResult {
  delivered: number;
  seconds: number;
  cpuSeconds: number;
}

/** With DATABASE_URL, each relay run gets a database of its own on that server (dropped afterwards). */
async function benchDatabase(): Promise<{ url: string | undefined; drop(): Promise<void> }> {
  const server = process.env['DATABASE_URL'];
  if (!server) return { url: undefined, drop: async () => {} };
  const name = `relay_bench_${randomBytes(5).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: server });
    await c.connect();
    await c.query(sql);
    await c.end();
  };
  await admin(`create database ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) };
}

const relayEnv = (databaseUrl: string | undefined): Record<string, string> => ({
  JWT_SECRET: secret,
  DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bench-relay-')),
  ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  // The benchmark measures the hot path, not the per-device budgets.
  RATE_MESSAGES_BURST: '100000',
  RATE_MESSAGES_PER_SECOND: '100000',
  RATE_FRAMES_BURST: '1000000',
  RATE_FRAMES_PER_SECOND: '1000000',
  RATE_BYTES_BURST: '1000000000',
  RATE_BYTES_PER_SECOND: '1000000000',
  RATE_CONNECTS_PER_IP_BURST: '1000000',
  RATE_CONNECTS_PER_IP_PER_SECOND: '1000000',
  MAX_CONNECTIONS_PER_IP: '1000000',
});

async function pairs(target: 'relay' | 'bare'): Promise<{ msgPerSec: number; generatorCpu: number }> {
  const script = target === 'bare' ? 'bench/baselines/bare-uws.ts' : 'src/main.ts';
  const db = await benchDatabase();
  const server = await startServer(0, script, target === 'bare' ? {} : relayEnv(db.url));
  try {
    const per = Math.ceil(cfg.pairs / cfg.workers);
    const results = await Promise.all(
      Array.from({ length: cfg.workers }, (_, w) =>
        runLoad<LoadResult>(1, 'bench/load/pairs-worker.ts', [target, String(server.port), String(w * per), String(per), String(cfg.warmupMs), String(cfg.measureMs), String(cfg.window), secret]),
      ),
    );
    const delivered = results.reduce((n, r) => n + r.delivered, 0);
    const seconds = Math.max(...results.map((r) => r.seconds));
    const cpu = results.reduce((n, r) => n + r.cpuSeconds, 0);
    return { msgPerSec: delivered / seconds, generatorCpu: cpu / seconds };
  } finally {
    await server.stop();
    await db.drop();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: { scenario: string; target: string; value: number; unit: string; generatorCpu: number }[] = [];
for (const target of ['bare', 'relay'] as const) {
  const runs = [];
  for (let i = 0; i < cfg.runs; i++) runs.push(await pairs(target));
  const best = median(runs.map((r) => r.msgPerSec));
  rows.push({ scenario: '1:1 pairs, saturation', target: target === 'bare' ? 'bare uWS forwarder' : 'relay (full protocol)', value: best, unit: 'msg/s', generatorCpu: median(runs.map((r) => r.generatorCpu)) });
  console.log(`${target}: ${best.toFixed(0)} msg/s (median of ${cfg.runs})`);
}
const ratio = rows[1]!.value / rows[0]!.value;
const md = [
  `# Benchmark (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}`,
  '',
  `${cfg.pairs} pairs, window ${cfg.window}, ${cfg.measureMs / 1000} s measured after ${cfg.warmupMs / 1000} s warm-up, median of ${cfg.runs}; server on CPU 0, generators on CPU 1; database: ${process.env['DATABASE_URL'] ? 'Postgres' : 'PGlite'}.`,
  '',
  '| scenario | target | result | generator CPU (cores) |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.scenario} | ${r.target} | ${r.value.toFixed(0)} ${r.unit} | ${r.generatorCpu.toFixed(2)} |`),
  '',
  `Relay / bare forwarder: **${(ratio * 100).toFixed(0)}%**`,
].join('\n');
mkdirSync(path.join(root, 'bench/results'), { recursive: true });
writeFileSync(path.join(root, 'bench/results/latest.json'), JSON.stringify({ config: cfg, rows, ratio }, null, 2));
writeFileSync(path.join(root, 'bench/results/latest.md'), `${md}\n`);
console.log(`\n${md}`);
