import type { Config } from '../config/config.ts';
import { redisTargetOf } from '../config/redis-target.ts';
import type { Logger } from '../util/logger.ts';
import { withTimeout } from '../util/with-timeout.ts';
import type { Bus } from './bus.ts';
import { MemoryBus } from './memory-bus.ts';
import { RedisBus } from './redis-bus.ts';

/**
 * The bus for this configuration: Redis when REDIS_URL or REDIS_CLUSTER_NODES
 * is set, otherwise an in-memory bus for a single node. A Redis that is
 * down at start does not stop the relay: local delivery works, and the bus catches up when Redis
 * comes back.
 */
export async function openBus(config: Config, nodeId: string, log: Logger): Promise<Bus> {
  const target = redisTargetOf(config);
  if (!target) return new MemoryBus(nodeId);
  const bus = new RedisBus({ target, nodeId, prefix: config.REDIS_PREFIX, commandTimeoutMs: config.REDIS_TIMEOUT_MS, log });
  try {
    await withTimeout(bus.ready(), config.REDIS_TIMEOUT_MS * 5, 'redis connect');
  } catch (err) {
    log.warn('redis unavailable at start; running on local delivery until it answers', { err });
  }
  return bus;
}
