import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Target } from '../load/dialects.ts';
import { root, startServer } from './processes.ts';

export const benchSecret = 'bench-secret-0123456789abcdef0123456789';

export const targetNames: Record<Target, string> = {
  relay: 'relay (full protocol)',
  bare: 'bare uWebSockets.js forwarder',
  socketio: 'socket.io relay',
  'naive-redis': 'naive uWebSockets.js + Redis forwarder',
};

/** With DATABASE_URL, each relay gets a database of its own on that server, dropped afterwards. */
export async function benchDatabase(): Promise<{ url: string | undefined; drop(): Promise<void> }> {
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

const relayEnv = (databaseUrl: string | undefined, extra: Record<string, string>): Record<string, string> => ({
  JWT_SECRET: benchSecret,
  DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bench-relay-')),
  LOG_LEVEL: 'info',
  ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  // The benchmark measures the hot path and the node's capacity, not the per-device and per-address budgets.
  RATE_MESSAGES_BURST: '100000',
  RATE_MESSAGES_PER_SECOND: '100000',
  RATE_FRAMES_BURST: '1000000',
  RATE_FRAMES_PER_SECOND: '1000000',
  RATE_BYTES_BURST: '1000000000',
  RATE_BYTES_PER_SECOND: '1000000000',
  RATE_CONNECTS_PER_IP_BURST: '1000000',
  RATE_CONNECTS_PER_IP_PER_SECOND: '1000000',
  MAX_CONNECTIONS_PER_IP: '1000000',
  MAX_CONNECTIONS: '1000000',
  ...extra,
});

export interface RunningTarget {
  /** The first node's port (the only one, unless it is a cluster). */
  port: number;
  ports: number[];
  pid: number;
  pids: number[];
  /** The relay's own database when it runs on Postgres (the fan-out scenario seeds users there). */
  databaseUrl: string | undefined;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** Nodes to start (each on CPU 0), sharing one database and `redisUrl`. */
  nodes?: number;
  /** Needed by naive-redis and by a relay cluster. */
  redisUrl?: string;
  /** Instead of redisUrl, for the relay: a Redis Cluster's nodes (host:port). */
  redisClusterNodes?: string[];
}

/**
 * BENCH_RELAY_BUNDLE=path runs that bundle as the relay instead of building
 * one, to set two builds against each other in alternating runs. It must
 * lie inside the project, where its imports find node_modules.
 */
const relayBundle = process.env['BENCH_RELAY_BUNDLE'];

const scripts: Record<Target, string> = {
  // The relay runs as `npm start` runs it: the bundle, built once per bench run (buildRelay).
  relay: relayBundle ?? 'dist/main.js',
  bare: 'bench/baselines/bare-uws.ts',
  socketio: 'bench/baselines/socketio-relay.ts',
  'naive-redis': 'bench/baselines/naive-redis-forwarder.ts',
};

let built = false;
/** Builds dist/main.js from the sources, once per process, so the bench never measures a stale bundle. */
function buildRelay(): void {
  if (built) return;
  const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
  built = true;
}

/** Starts a target (or a cluster of it) on CPU 0. */
export async function startTarget(target: Target, opts: TargetOptions = {}): Promise<RunningTarget> {
  if (target === 'relay' && !relayBundle) buildRelay();
  const db = target === 'relay' ? await benchDatabase() : { url: undefined, drop: async () => {} };
  // A single node runs without Redis (in-memory bus and presence), whatever the caller's shell holds: the
  // figures then describe one configuration. Clusters get the scenario's own redis-server.
  const prefix = `bench${randomBytes(4).toString('hex')}`;
  const redis: Record<string, string> = opts.redisClusterNodes
    ? { REDIS_URL: '', REDIS_CLUSTER_NODES: opts.redisClusterNodes.join(','), REDIS_PREFIX: prefix }
    : opts.redisUrl
      ? { REDIS_URL: opts.redisUrl, REDIS_PREFIX: prefix }
      : { REDIS_URL: '' };
  const env = target === 'relay' ? relayEnv(db.url, redis) : { JWT_SECRET: benchSecret, ...redis };
  const servers: Awaited<ReturnType<typeof startServer>>[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await db.drop();
  };
  try {
    for (let i = 0; i < (opts.nodes ?? 1); i++) servers.push(await startServer(0, scripts[target], env));
  } catch (err) {
    await stop();
    throw err;
  }
  return { port: servers[0]!.port, ports: servers.map((s) => s.port), pid: servers[0]!.child.pid!, pids: servers.map((s) => s.child.pid!), databaseUrl: db.url, stop };
}

/** Starts a fresh target (or cluster), runs `fn` against it, and stops it. */
export async function withTarget<T>(target: Target, opts: TargetOptions, fn: (server: RunningTarget) => Promise<T>): Promise<T> {
  const server = await startTarget(target, opts);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}
