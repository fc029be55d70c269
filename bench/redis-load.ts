/**
 * `npm run bench:redis [-- --devices 1000 --seconds 30]`: what idle
 * connections cost Redis, and what one Redis shard takes here, for the
 * scale model (docs/scaling.md). One relay node on a private redis-server
 * (and the Postgres of DATABASE_URL) holds `--devices` connected devices,
 * each its own user, doing nothing; the Redis commands it sends in
 * `--seconds` are read from INFO commandstats, per connection per second
 * and by command. Then redis-benchmark measures the shard: pipelined
 * PUBLISH of a bus-sized payload with one subscriber listening, and
 * EVALSHA of a one-key script, the shape of presence's commands.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { CHAOS_SECRET } from '../tools/chaos/chaos-cluster.ts';
import { ChaosDevice } from '../tools/chaos/chaos-device.ts';
import { chaosToken } from '../tools/chaos/run-kit.ts';
import { startRelay, tempDir } from '../tools/relay-process.ts';
import { startThrowawayRedis } from '../tools/throwaway-redis.ts';
import { benchDatabase } from './lib/targets.ts';

const { values } = parseArgs({ options: { devices: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '30' }, payload: { type: 'string', default: '700' } } });
const devices = Number(values.devices);
const seconds = Number(values.seconds);
if (!process.env['DATABASE_URL']) {
  console.error('bench:redis needs DATABASE_URL (a Postgres server)');
  process.exit(1);
}

const redis = await startThrowawayRedis(1);
const db = await benchDatabase();
const relay = await startRelay({ DATABASE_URL: db.url, REDIS_URL: redis.url, JWT_SECRET: CHAOS_SECRET, DATA_DIR: tempDir('bench-redis') });
const client = new Redis(redis.url);
/** Calls per command since the server started. */
const commandStats = async () => {
  const out = new Map<string, number>();
  for (const line of (await client.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
};
const fleet: ChaosDevice[] = [];
try {
  for (let i = 0; i < devices; i++) {
    const user = `idle${i}`;
    const d = new ChaosDevice({ user, device: 'd1', urls: [relay.url], first: 0, token: () => chaosToken(user, 'd1'), onFrame: () => {}, onReady: () => {}, onClose: () => {} });
    d.start();
    fleet.push(d);
    if (i % 50 === 49) while (!fleet.every((x) => x.ready)) await new Promise((r) => setTimeout(r, 20));
  }
  while (!fleet.every((x) => x.ready)) await new Promise((r) => setTimeout(r, 50));
  // Let the connects' own commands settle, then count a quiet window.
  await new Promise((r) => setTimeout(r, 5000));
  const before = await commandStats();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = await commandStats();
  const delta = [...after].map(([cmd, n]) => [cmd, n - (before.get(cmd) ?? 0)] as const).filter(([cmd, n]) => n > 0 && cmd !== 'info');
  const total = delta.reduce((n, [, d]) => n + d, 0);
  const perConn = total / seconds / devices;
  console.log(`\n## Redis commands from idle connections: ${devices} devices, ${seconds} s\n`);
  console.log(`${perConn.toFixed(3)} commands per connection per second (${total} in all). By command, per connection per second:`);
  for (const [cmd, n] of delta.sort((a, b) => b[1] - a[1])) console.log(`- ${cmd}: ${(n / seconds / devices).toFixed(3)}`);
} finally {
  for (const d of fleet) d.stop();
  client.disconnect();
  await relay.stop('SIGKILL');
  await db.drop();
}

// One shard's capacity: a subscriber on the channel, so each PUBLISH is delivered as on the bus.
const port = new URL(redis.url).port;
const sub = new Redis(redis.url);
await sub.subscribe('bench-channel');
const bench = (...args: string[]) => {
  const r = spawnSync('taskset', ['-c', '1', 'redis-benchmark', '-p', port, '-q', '-n', '300000', '-P', '32', '-c', '8', ...args], { encoding: 'utf8' });
  const m = /([\d.]+) requests per second/.exec(r.stdout);
  return m ? Number(m[1]) : Number.NaN;
};
const payload = 'x'.repeat(Number(values.payload));
const publish = bench('publish', 'bench-channel', payload);
const script = bench('eval', "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) return 1", '1', 'bench-key', '1', 'member');
const zadd = bench('zadd', 'bench-z', '1', 'member');
console.log(`\n## One redis-server on one core, redis-benchmark, 8 clients, pipeline 32\n`);
console.log(`- PUBLISH of ${payload.length} bytes to one subscriber: ${Math.round(publish).toLocaleString('en-US')}/s`);
console.log(`- EVAL of a one-key ZADD script: ${Math.round(script).toLocaleString('en-US')}/s`);
console.log(`- ZADD: ${Math.round(zadd).toLocaleString('en-US')}/s`);
sub.disconnect();
await redis.stop();
