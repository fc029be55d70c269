import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Target } from '../load/dialects.ts';
import { startServer } from './processes.ts';

export const benchSecret = 'bench-secret-0123456789abcdef0123456789';

export const targetNames: Record<Target, string> = {
  relay: 'relay (full protocol)',
  bare: 'bare uWebSockets.js forwarder',
  socketio: 'socket.io relay',
};

/** With DATABASE_URL, each relay gets a database of its own on that server, dropped afterwards. */
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
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts a target on CPU 0. */
export async function startTarget(target: Target, extraEnv: Record<string, string> = {}): Promise<RunningTarget> {
  const db = target === 'relay' ? await benchDatabase() : { url: undefined, drop: async () => {} };
  const script = { relay: 'src/main.ts', bare: 'bench/baselines/bare-uws.ts', socketio: 'bench/baselines/socketio-relay.ts' }[target];
  const env = target === 'relay' ? relayEnv(db.url, extraEnv) : { JWT_SECRET: benchSecret, ...extraEnv };
  const server = await startServer(0, script, env);
  return {
    port: server.port,
    pid: server.child.pid!,
    async stop() {
      await server.stop();
      await db.drop();
    },
  };
}
