import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

export interface ThrowawayRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL). */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A private redis-server on a free port, for tests that stop or kill Redis. */
export async function startThrowawayRedis(): Promise<ThrowawayRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await pingable(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('throwaway redis-server did not start');
  };
  const kill = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, kill, restart: start, stop: kill };
}

async function pingable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      s.destroy();
      resolve(String(d).startsWith('+PONG'));
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * The Redis a test file should use: REDIS_URL when set, else a throwaway
 * redis-server when one is installed, else none (the caller skips and says so).
 * `prefix` keeps parallel test files apart on a shared server.
 */
export async function testRedis(): Promise<{ url: string; prefix: string; stop(): Promise<void> } | undefined> {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const env = process.env['REDIS_URL'];
  if (env) return { url: env, prefix, stop: async () => {} };
  if (!hasRedisServer) return undefined;
  const r = await startThrowawayRedis();
  return { url: r.url, prefix, stop: r.stop };
}

export const redisSkipReason = 'no REDIS_URL and no redis-server installed: Redis tests skipped';
