import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './relay-process.ts';

/** Where Debian puts the server binaries (the newest version installed). */
function serverBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(base, versions[0], 'bin');
}

const bin = serverBin();
export const hasPostgresServer = bin !== undefined;

export interface ThrowawayPostgres {
  /** A database of its own on the private server. */
  url: string;
  port: number;
  /** Immediate shutdown (SIGQUIT to the postmaster, like `pg_ctl stop -m immediate`): no checkpoint, recovery at the next start. */
  crash(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  restart(): Promise<void>;
  /** Stalls every process of the server (SIGSTOP): connections stay open, queries wait. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
  /** Stops it and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * A private PostgreSQL server in a temporary directory, on a free port:
 * for runs that crash or stall Postgres and must leave the machine's own
 * server alone. `initdb` refuses to run as root, so as root the server runs
 * as the `postgres` user.
 */
export async function startThrowawayPostgres(database = 'relay'): Promise<ThrowawayPostgres> {
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const asRoot = userInfo().uid === 0;
  const owner = asRoot ? idsOf('postgres') : undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'pg-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  chmodSync(dir, 0o700);
  const data = path.join(dir, 'data');
  const init = spawnSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { ...(owner ?? {}), encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(path.join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-h', '127.0.0.1', '-c', 'max_connections=200'], { ...(owner ?? {}), stdio: 'ignore' });
    for (let i = 0; i < 200; i++) {
      if (await accepts(port, 'postgres')) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('throwaway postgres did not start');
  };
  const crash = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child!.once('exit', r));
    resume();
    child.kill('SIGQUIT');
    await exited;
  };
  const signalAll = (sig: NodeJS.Signals) => {
    if (!child?.pid) return;
    // The postmaster first when stopping (no new backends), last when resuming.
    const children = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number);
    const order = sig === 'SIGSTOP' ? [child.pid, ...children] : [...children, child.pid];
    for (const pid of order) {
      try {
        process.kill(pid, sig);
      } catch {
        // exited meanwhile
      }
    }
  };
  const pause = () => signalAll('SIGSTOP');
  const resume = () => signalAll('SIGCONT');
  await start();
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query(`create database ${database}`);
  await admin.end();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${database}`,
    port,
    crash,
    restart: start,
    pause,
    resume,
    stop: async () => {
      await crash();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function idsOf(user: string): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`no user ${user} to run postgres as`);
  return { uid, gid };
}

async function accepts(port: number, database: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/${database}`, connectionTimeoutMillis: 1000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    await c.end().catch(() => {});
    return false;
  }
}
