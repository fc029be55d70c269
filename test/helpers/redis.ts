import { randomBytes } from 'node:crypto';
import { hasRedisServer, startThrowawayRedis } from '../../tools/throwaway-redis.ts';
import { hasRedisCluster, startThrowawayRedisCluster } from '../../tools/throwaway-redis-cluster.ts';

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

/** A private three-master Redis Cluster for one test file, or undefined when redis-server and redis-cli are missing. */
export async function testRedisCluster(): Promise<TestRedis | undefined> {
  if (!hasRedisCluster) return undefined;
  const c = await startThrowawayRedisCluster(3);
  const prefix = `t${randomBytes(5).toString('hex')}`;
  return { prefix, env: { REDIS_CLUSTER_NODES: c.nodes.join(','), REDIS_PREFIX: prefix }, stop: c.stop };
}

export const redisSkipReason = 'no REDIS_URL and no redis-server installed: Redis tests skipped';
