import type { Cluster, Redis } from 'ioredis';
import type { ClusterTarget } from '../config/redis-target.ts';
import { redisCluster, redisUp, singleRedis } from '../util/redis-clients.ts';

/**
 * The two Redis connections the bus talks through, one to publish and one
 * to listen, over a single Redis (PUBLISH, SUBSCRIBE) or a Redis Cluster
 * (SPUBLISH, SSUBSCRIBE: sharded pub/sub, where each channel lives on the
 * shard that owns its slot, so a message crosses one shard, not all).
 * The bus (redis-bus.ts) keeps the rules; a link only carries.
 */
export interface BusLink {
  /** Resolves with how many subscribers the message reached (those of its shard on a cluster). */
  publish(channel: string, payload: string): Promise<number>;
  readonly publisherReady: boolean;
  /** Runs `write` with the publisher's socket corked where there is one socket, so its publishes leave in one write. */
  corked(write: () => void): void;
  /** Resolves once Redis confirmed every channel. */
  subscribe(channels: readonly string[]): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  readonly subscriberReady: boolean;
  /** The subscriber lost a connection: Redis forgot the subscriptions it carried. */
  onSubscriberLost(fn: () => void): void;
  /** The subscriber is connected (again). */
  onSubscriberReady(fn: () => void): void;
  onPublisherReady(fn: () => void): void;
  onMessage(fn: (channel: string, payload: string) => void): void;
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface LinkOptions {
  nodeId: string;
  commandTimeoutMs: number;
}

/** Start-up and shutdown of the two connections, whichever kind they are. */
const bothOf = (pub: Redis | Cluster, sub: Redis | Cluster): Pick<BusLink, 'ready' | 'close'> => ({
  ready: async () => {
    await Promise.all([redisUp(pub), redisUp(sub)]);
  },
  close: async () => {
    await Promise.allSettled([pub.quit(), sub.quit()]);
  },
});

/** A single Redis. */
export function singleRedisLink(url: string, o: LinkOptions): BusLink {
  // No auto-pipelining: the bus writes a turn's PUBLISHes in one go itself (corked).
  const pub = singleRedis(url, { name: `relay-pub-${o.nodeId}`, commandTimeoutMs: o.commandTimeoutMs });
  // The bus resubscribes itself after a reconnect, not ioredis (autoResubscribe): it must know when Redis confirmed each topic again.
  const sub = singleRedis(url, { name: `relay-sub-${o.nodeId}`, commandTimeoutMs: o.commandTimeoutMs, offlineQueue: true, autoResubscribe: false });
  return {
    publish: (channel, payload) => pub.publish(channel, payload),
    get publisherReady() {
      return pub.status === 'ready';
    },
    corked(write) {
      const stream = pub.status === 'ready' ? pub.stream : undefined;
      stream?.cork();
      try {
        write();
      } finally {
        stream?.uncork();
      }
    },
    subscribe: (channels) => sub.subscribe(...channels),
    unsubscribe: (channel) => sub.unsubscribe(channel),
    get subscriberReady() {
      return sub.status === 'ready';
    },
    onSubscriberLost: (fn) => void sub.on('close', fn),
    onSubscriberReady: (fn) => void sub.on('ready', fn),
    onPublisherReady: (fn) => void pub.on('ready', fn),
    onMessage: (fn) => void sub.on('messageBuffer', (channel: Buffer, payload: Buffer) => fn(channel.toString(), payload.toString())),
    ...bothOf(pub, sub),
  };
}

/**
 * A Redis Cluster (some of its nodes; the client finds the rest). SSUBSCRIBE takes
 * channels of one slot per command, so each channel is its own command;
 * ioredis routes it to the shard's subscriber connection. A sharded
 * subscriber that goes away (its master failed over, or the topology
 * moved) counts as the subscriber lost: the bus asks for every channel
 * again, and ioredis starts the connection the new owner needs.
 */
/** How long a cluster's shard subscribers must stay put before the bus counts them ready. */
const CLUSTER_SETTLE_MS = 200;

export function redisClusterLink(target: ClusterTarget, o: LinkOptions): BusLink {
  const pub = redisCluster(target, { name: `relay-pub-${o.nodeId}`, commandTimeoutMs: o.commandTimeoutMs });
  const sub = redisCluster(target, { name: `relay-sub-${o.nodeId}`, commandTimeoutMs: o.commandTimeoutMs, offlineQueue: true, shardedSubscribers: true });
  return {
    publish: (channel, payload) => pub.spublish(channel, payload) as Promise<number>,
    get publisherReady() {
      return pub.status === 'ready';
    },
    // Publishes go to several shards' sockets: nothing to cork as one.
    corked: (write) => write(),
    subscribe: (channels) => Promise.all(channels.map((c) => sub.ssubscribe(c))),
    unsubscribe: (channel) => sub.sunsubscribe(channel),
    get subscriberReady() {
      return sub.status === 'ready';
    },
    onSubscriberLost: (fn) => {
      sub.on('-subscriber', fn);
      sub.on('close', fn);
    },
    onSubscriberReady: (fn) => {
      // ioredis rebuilds its shard subscribers on every topology refresh and says so when done
      // (subscribersReady). While a master fails over it refreshes every few milliseconds until a
      // replica takes the slots, so the bus hears "ready" once the topology has held still.
      let settle: NodeJS.Timeout | undefined;
      const later = () => {
        clearTimeout(settle);
        settle = setTimeout(fn, CLUSTER_SETTLE_MS);
        settle.unref();
      };
      sub.on('subscribersReady', later);
      sub.on('ready', later);
      sub.on('-subscriber', () => clearTimeout(settle));
    },
    onPublisherReady: (fn) => void pub.on('ready', fn),
    onMessage: (fn) => void sub.on('smessageBuffer', (channel: Buffer, payload: Buffer) => fn(channel.toString(), payload.toString())),
    ...bothOf(pub, sub),
  };
}
