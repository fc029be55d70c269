import { hasRedisServer, startThrowawayRedis } from '../../tools/throwaway-redis.ts';

export interface BenchRedis {
  url: string;
  /** Where it came from, for the report. */
  origin: string;
  stop(): Promise<void>;
}

/**
 * The Redis for cross-node runs: a private redis-server pinned to the load
 * generators' CPU when one is installed (nothing else talks to it, and it
 * does not share the servers' core), else REDIS_URL, else none.
 */
export async function benchRedis(): Promise<BenchRedis | undefined> {
  if (hasRedisServer) {
    const r = await startThrowawayRedis(1);
    return { url: r.url, origin: 'a private redis-server on CPU 1', stop: r.stop };
  }
  const url = process.env['REDIS_URL'];
  return url ? { url, origin: 'REDIS_URL', stop: async () => {} } : undefined;
}
