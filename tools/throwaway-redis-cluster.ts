import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { parseClusterNodes, type ClusterTarget } from '../src/config/redis-target.ts';
import { freePort, tempDir } from './relay-process.ts';

export const hasRedisCluster = spawnSync('redis-cli', ['--version']).status === 0 && spawnSync('redis-server', ['--version']).status === 0;

export interface ThrowawayRedisCluster {
  /** host:port of every node, as REDIS_CLUSTER_NODES takes them. */
  nodes: string[];
  ports: number[];
  target: ClusterTarget;
  /** The port of the master that holds `key`'s slot now. */
  masterOf(key: string): number;
  /** SIGKILLs the node on `port` (a master's replica then takes over, if it has one). */
  kill(port: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private Redis Cluster of `masters` masters on free ports, without
 * persistence, for tests and benchmarks: each node is a redis-server with
 * cluster mode on, and `redis-cli --cluster create` spreads the slots.
 * Resolves once every node reports the cluster ok. `cpu` pins every node
 * with taskset (benchmarks).
 */
export async function startThrowawayRedisCluster(masters = 3, replicasEach = 0, cpu?: number): Promise<ThrowawayRedisCluster> {
  const dir = tempDir('redis-cluster');
  const ports: number[] = [];
  for (let i = 0; i < masters * (1 + replicasEach); i++) ports.push(await freePort());
  const children: ChildProcess[] = ports.map((port) => {
    // No persistence; a short node timeout so that a killed master's replica takes over within seconds.
    const node = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
    const cluster = ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000'];
    const args = ['redis-server', ...node, ...cluster];
    const [cmd, ...rest] = cpu === undefined ? args : ['taskset', '-c', String(cpu), ...args];
    return spawn(cmd!, rest, { stdio: 'ignore' });
  });
  const killChild = (c: ChildProcess) => {
    if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    return exited;
  };
  const stop = async () => {
    await Promise.all(children.map(killChild));
  };
  const alive = (port: number) => {
    const c = children[ports.indexOf(port)]!;
    return c.exitCode === null && c.signalCode === null;
  };
  try {
    for (const port of ports) await until(() => cli(port, 'ping') === 'PONG', `redis-server on ${port} did not start`);
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicasEach), '--cluster-yes'], { encoding: 'utf8' });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    for (const port of ports) await until(() => cli(port, 'cluster', 'info').includes('cluster_state:ok'), `cluster node ${port} not ok`);
    // A replica that has not synced cannot take over: wait until each has its master's data.
    for (const port of ports) {
      await until(() => {
        const info = cli(port, 'info', 'replication');
        return info.includes('role:master') || info.includes('master_link_status:up');
      }, `replica ${port} did not sync`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const nodes = ports.map((p) => `127.0.0.1:${p}`);
  return {
    nodes,
    ports,
    target: parseClusterNodes(nodes),
    masterOf(key) {
      const asker = ports.find(alive);
      if (asker === undefined) throw new Error('every node is down');
      const slot = Number(cli(asker, 'cluster', 'keyslot', key));
      for (const line of cli(asker, 'cluster', 'nodes').split('\n')) {
        // <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link state> <slot ranges...>
        const [, addr = '', flags = '', , , , , state, ...ranges] = line.split(' ');
        if (!flags.split(',').includes('master') || flags.includes('fail') || state !== 'connected') continue;
        const holds = ranges.some((r) => {
          const [lo = -1, hi = lo] = r.split('-').map(Number);
          return slot >= lo && slot <= hi;
        });
        if (holds) return Number(addr.split('@')[0]!.split(':')[1]);
      }
      throw new Error(`no live master holds slot ${slot}`);
    },
    kill: (port) => killChild(children[ports.indexOf(port)]!).then(() => {}),
    stop,
  };
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
