import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from './relay-process.ts';

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

export interface ThrowawayRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL). */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  /** Stalls the server (SIGSTOP): connections stay open and commands wait. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
  stop(): Promise<void>;
}

/**
 * A private redis-server on a free port, without persistence: for tests
 * that stop or kill Redis, and for benchmarks. `cpu` pins it with taskset.
 */
export async function startThrowawayRedis(cpu?: number): Promise<ThrowawayRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const args = ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const [cmd, ...rest] = cpu === undefined ? args : ['taskset', '-c', String(cpu), ...args];
  const start = async () => {
    child = spawn(cmd!, rest, { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await pingable(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('throwaway redis-server did not start');
  };
  const kill = async () => {
    // A child killed by a signal keeps exitCode null: signalCode tells that it is gone.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  const signal = (sig: NodeJS.Signals) => () => void child?.kill(sig);
  return { url: `redis://127.0.0.1:${port}`, port, kill, restart: start, pause: signal('SIGSTOP'), resume: signal('SIGCONT'), stop: kill };
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
