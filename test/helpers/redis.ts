import { randomBytes } from 'node:crypto';
import { hasRedisServer, startThrowawayRedis } from '../../tools/throwaway-redis.ts';
import { hasRedisCluster, startThrowawayRedisCluster, type ThrowawayRedisCluster } from '../../tools/throwaway-redis-cluster.ts';

export { hasRedisServer, startThrowawayRedis } from '../../tools/throwaway-redis.ts';

/**
 * The Redis a test file should use: REDIS_URL when set, else a throwaway
 * redis-server when one is installed, else none (the caller skips and says so).
 * `prefix` keeps parallel test files apart on a shared server.
 */
export async function testRedis(): Promise<(TestRedis & { url: string }) | undefined> {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const single = (url: string, stop: () => Promise<void>) => ({ url, prefix, env: { REDIS_URL: url, REDIS_PREFIX: prefix }, stop });
  const env = process.env['REDIS_URL'];
  if (env) return single(env, async () => {});
  if (!hasRedisServer) return undefined;
  const r = await startThrowawayRedis();
  return single(r.url, r.stop);
}

/** A Redis for one test file: where it is, and the relay environment that points a node at it. */
export interface TestRedis {
  /** The single Redis's URL (undefined for a cluster). */
  url?: string;
  prefix: string;
  /** REDIS_URL or REDIS_CLUSTER_NODES, and REDIS_PREFIX. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A private three-master Redis Cluster for one test file (`replicasEach`
 * replicas per master), or undefined when redis-server and redis-cli are
 * missing. `cluster` finds and kills its masters.
 */
export async function testRedisCluster(replicasEach = 0): Promise<(TestRedis & { cluster: ThrowawayRedisCluster }) | undefined> {
  if (!hasRedisCluster) return undefined;
  const cluster = await startThrowawayRedisCluster(3, replicasEach);
  const prefix = `t${randomBytes(5).toString('hex')}`;
  return { prefix, env: { REDIS_CLUSTER_NODES: cluster.nodes.join(','), REDIS_PREFIX: prefix }, stop: cluster.stop, cluster };
}

export const redisSkipReason = 'no REDIS_URL and no redis-server installed: Redis tests skipped';
