import { startRelay, tempDir, freePort, type RelayProcess } from '../relay-process.ts';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../throwaway-postgres.ts';
import { startThrowawayRedis, type ThrowawayRedis } from '../throwaway-redis.ts';

export const CHAOS_SECRET = 'chaos-run-secret-0123456789abcdef0123456789';

/**
 * The cluster a chaos run breaks: a private Redis, a private Postgres and
 * `nodes` relay processes on fixed ports (so a node comes back where its
 * clients look for it). Nothing here touches the machine's own services.
 */
export class ChaosCluster {
  private constructor(
    readonly redis: ThrowawayRedis,
    readonly postgres: ThrowawayPostgres,
    private readonly envs: Record<string, string>[],
    readonly nodes: (RelayProcess | undefined)[],
  ) {}

  static async start(nodes: number): Promise<ChaosCluster> {
    const [redis, postgres] = await Promise.all([startThrowawayRedis(), startThrowawayPostgres('chaos')]);
    const envs: Record<string, string>[] = [];
    for (let i = 0; i < nodes; i++) {
      envs.push({
        PORT: String(await freePort()),
        NODE_ID: `chaos${i}`,
        DATA_DIR: tempDir(`chaos${i}`),
        DATABASE_URL: postgres.url,
        REDIS_URL: redis.url,
        REDIS_PREFIX: 'chaos',
        JWT_SECRET: CHAOS_SECRET,
        // A drain short enough to happen several times in a run.
        DRAIN_READY_SECONDS: '1',
        DRAIN_SECONDS: '2',
        // The run's senders send far more than a person: lift the per-device budgets, keep every other limit.
        RATE_MESSAGES_PER_SECOND: '1000',
        RATE_MESSAGES_BURST: '1000',
        RATE_FRAMES_PER_SECOND: '10000',
        RATE_FRAMES_BURST: '10000',
        RATE_CONTROL_PER_SECOND: '100',
        RATE_CONTROL_BURST: '100',
        PRESENCE_TTL_SECONDS: '5',
        PRESENCE_GRACE_SECONDS: '1',
      });
    }
    const started = await Promise.all(envs.map((env) => startRelay(env)));
    return new ChaosCluster(redis, postgres, envs, started);
  }

  urls(): string[] {
    return this.envs.map((e) => `ws://127.0.0.1:${e['PORT']}/ws`);
  }

  async killNode(i: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const node = this.nodes[i];
    this.nodes[i] = undefined;
    await node?.stop(signal);
  }

  async startNode(i: number): Promise<void> {
    this.nodes[i] = await startRelay(this.envs[i]!);
  }

  signalNode(i: number, signal: 'SIGSTOP' | 'SIGCONT'): void {
    const pid = this.nodes[i]?.child.pid;
    try {
      if (pid !== undefined) process.kill(pid, signal);
    } catch {
      // The node has exited already.
    }
  }

  /** Every node's log lines, for the report when something went wrong. */
  logs(): string[] {
    return this.nodes.flatMap((n, i) => (n ? n.logs.map((l) => `[node ${i}] ${l}`) : []));
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.nodes.length; i++) this.signalNode(i, 'SIGCONT');
    this.redis.resume();
    this.postgres.resume();
    await Promise.all(this.nodes.map((n) => n?.stop('SIGKILL')));
    await this.redis.stop();
    await this.postgres.stop();
  }
}
