import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ClusterTarget, RedisTarget } from '../config/redis-target.ts';

/**
 * The one place ioredis clients are made, so that every connection the
 * relay opens follows the same rules: each command bounded by
 * `commandTimeoutMs`, nothing queued while Redis is away unless the
 * caller asks (a subscriber does, its SUBSCRIBEs wait for the connection),
 * no retries of a failed command, reconnects backing off to 2 s.
 */
export interface ClientOptions {
  /** Shown in CLIENT LIST, with the node id. */
  name: string;
  commandTimeoutMs: number;
  /** Queue commands while disconnected (a subscriber's). Default false: fail at once. */
  offlineQueue?: boolean;
  /** Send the commands of one turn as one pipeline (per shard on a cluster). */
  autoPipelining?: boolean;
}

const backoff = (n: number) => Math.min(50 * 2 ** Math.min(n, 6), 2000);

const common = (o: ClientOptions): RedisOptions => ({
  commandTimeout: o.commandTimeoutMs,
  enableOfflineQueue: o.offlineQueue ?? false,
  enableAutoPipelining: o.autoPipelining ?? false,
  maxRetriesPerRequest: 0,
  retryStrategy: backoff,
  connectionName: o.name,
});

export function singleRedis(url: string, o: ClientOptions & Pick<RedisOptions, 'autoResubscribe'>): Redis {
  const c = new Redis(url, { ...common(o), ...(o.autoResubscribe === undefined ? {} : { autoResubscribe: o.autoResubscribe }) });
  // Errors surface on the commands that fail; the client reconnects by itself.
  c.on('error', () => {});
  return c;
}

export function redisCluster(t: ClusterTarget, o: ClientOptions & Pick<ClusterOptions, 'shardedSubscribers'>): Cluster {
  const c = new Cluster(t.nodes, {
    enableOfflineQueue: o.offlineQueue ?? false,
    enableAutoPipelining: o.autoPipelining ?? false,
    clusterRetryStrategy: backoff,
    ...(o.shardedSubscribers ? { shardedSubscribers: true } : {}),
    redisOptions: {
      // Each shard's own connection fails fast; the cluster client above decides what waits.
      ...common({ ...o, offlineQueue: false }),
      ...(t.username ? { username: t.username } : {}),
      ...(t.password ? { password: t.password } : {}),
      ...(t.tls ? { tls: {} } : {}),
    },
  });
  c.on('error', () => {});
  return c;
}

/** A client for commands (not pub/sub) on either kind of target. */
export function openRedis(t: RedisTarget, o: ClientOptions): Redis | Cluster {
  return t.kind === 'single' ? singleRedis(t.url, o) : redisCluster(t, o);
}

/** Resolves once the client is connected (a cluster: once it knows the slots). */
export function redisUp(c: Redis | Cluster): Promise<void> {
  return c.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => c.once('ready', () => resolve()));
}
