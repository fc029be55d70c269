import type { Config } from '../config/config.ts';
import { redisTargetOf } from '../config/redis-target.ts';
import { MemoryPresence } from './memory-presence.ts';
import type { Presence, PresenceTiming } from './presence.ts';
import { RedisPresence } from './redis-presence.ts';

/**
 * A lease store for this configuration: shared in Redis when REDIS_URL or
 * REDIS_CLUSTER_NODES is set (keys under REDIS_PREFIX plus `namespace`), in memory for a single
 * node otherwise.
 */
export function openLeaseStore(config: Config, namespace: string, timing: PresenceTiming): Presence {
  const prefix = namespace ? `${config.REDIS_PREFIX}:${namespace}` : config.REDIS_PREFIX;
  const target = redisTargetOf(config);
  return target ? new RedisPresence(target, prefix, timing, config.REDIS_TIMEOUT_MS) : new MemoryPresence(timing);
}
