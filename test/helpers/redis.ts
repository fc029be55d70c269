import { randomBytes } from 'node:crypto';
import { hasRedisServer, startThrowawayRedis } from '../../tools/throwaway-redis.ts';

export { hasRedisServer, startThrowawayRedis } from '../../tools/throwaway-redis.ts';

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
