import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort, tempDir } from './relay-process.ts';

export const hasRedisCluster = spawnSync('redis-cli', ['--version']).status === 0 && spawnSync('redis-server', ['--version']).status === 0;

export interface ThrowawayRedisCluster {
  /** host:port of every master, as REDIS_CLUSTER_NODES takes them. */
  nodes: string[];
  ports: number[];
  stop(): Promise<void>;
}

/**
 * A private Redis Cluster of `masters` masters on free ports, without
 * persistence, for tests and benchmarks: each node is a redis-server with
 * cluster mode on, and `redis-cli --cluster create` spreads the slots.
 * Resolves once every node reports the cluster ok.
 */
export async function startThrowawayRedisCluster(masters = 3): Promise<ThrowawayRedisCluster> {
  const dir = tempDir('redis-cluster');
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await freePort());
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    ),
  );
  const stop = async () => {
    await Promise.all(
      children.map((c) => {
        if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        return exited;
      }),
    );
  };
  try {
    for (const port of ports) await until(() => cli(port, 'ping') === 'PONG', `redis-server on ${port} did not start`);
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    for (const port of ports) await until(() => cli(port, 'cluster', 'info').includes('cluster_state:ok'), `cluster node ${port} not ok`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: ports.map((p) => `127.0.0.1:${p}`), ports, stop };
}

function cli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();
}

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(what);
}
