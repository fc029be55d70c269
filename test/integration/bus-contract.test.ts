import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROADCAST, type Bus, type BusMessage } from '../../src/bus/bus.ts';
import { MemoryBroker, MemoryBus } from '../../src/bus/memory-bus.ts';
import type { RedisTarget } from '../../src/config/redis-target.ts';
import { RedisBus } from '../../src/bus/redis-bus.ts';
import { createLogger } from '../../src/util/logger.ts';
import { redisSkipReason, testRedis } from '../helpers/redis.ts';
import { hasRedisServer, startThrowawayRedis, type ThrowawayRedis } from '../../tools/throwaway-redis.ts';
import { hasRedisCluster, startThrowawayRedisCluster } from '../../tools/throwaway-redis-cluster.ts';

/** Two or three nodes on one bus; the same contract for the memory and Redis versions. */
interface BusFactory {
  name: string;
  nodes(count: number): Promise<Bus[]>;
  close(): Promise<void>;
}

const log = createLogger('silent');
const redis = await testRedis();
if (!redis) console.warn(redisSkipReason);
// After every describe of the file: the last one uses this server too.
afterAll(() => redis?.stop());

const factories: BusFactory[] = [
  {
    name: 'memory',
    async nodes(count) {
      const broker = new MemoryBroker();
      return Array.from({ length: count }, (_, i) => new MemoryBus(`n${i}`, broker));
    },
    async close() {},
  },
];
/** Redis buses on `target` (a single Redis, or a cluster), each call on a fresh prefix. */
function redisFactory(name: string, prefix: string, target: RedisTarget): BusFactory {
  const made: RedisBus[] = [];
  return {
    name,
    async nodes(count) {
      const p = `${prefix}${randomBytes(3).toString('hex')}`;
      const buses = Array.from({ length: count }, (_, i) => new RedisBus({ target, nodeId: `n${i}`, prefix: p, commandTimeoutMs: 1000, log }));
      made.push(...buses);
      await Promise.all(buses.map((b) => b.ready()));
      return buses;
    },
    async close() {
      await Promise.all(made.map((b) => b.close()));
    },
  };
}
if (redis) factories.push(redisFactory('redis', redis.prefix, { kind: 'single', url: redis.url }));

// A private three-master Redis Cluster, for the sharded pub/sub version of the same contract.
const cluster = hasRedisCluster ? await startThrowawayRedisCluster(3) : undefined;
if (!cluster) console.warn('redis cluster bus tests skipped: redis-server and redis-cli are not installed');
afterAll(() => cluster?.stop());
if (cluster) factories.push(redisFactory('redis cluster', 'cluster', cluster.target));

const collect = (bus: Bus) => {
  const got: { topic: string; msg: BusMessage }[] = [];
  bus.onMessage((topic, msg) => got.push({ topic, msg }));
  return got;
};
const settle = () => new Promise((r) => setTimeout(r, 150));
const push = (frame: string): BusMessage => ({ k: 'push', frame });

describe.each(factories)('bus contract: $name', (factory) => {
  afterAll(() => factory.close());
  let a: Bus;
  let b: Bus;
  let c: Bus;
  let gotA: ReturnType<typeof collect>;
  let gotB: ReturnType<typeof collect>;
  let gotC: ReturnType<typeof collect>;
  beforeAll(async () => {
    [a, b, c] = (await factory.nodes(3)) as [Bus, Bus, Bus];
    gotA = collect(a);
    gotB = collect(b);
    gotC = collect(c);
  });
  const reset = () => {
    gotA.length = 0;
    gotB.length = 0;
    gotC.length = 0;
  };

  it('delivers to every other subscribed node once, in publish order', async () => {
    reset();
    b.subscribe('alice');
    c.subscribe('alice');
    await settle();
    for (let i = 0; i < 50; i++) a.publish('alice', push(`m${i}`));
    await settle();
    const expected = Array.from({ length: 50 }, (_, i) => ({ topic: 'alice', msg: push(`m${i}`) }));
    expect(gotB).toEqual(expected);
    expect(gotC).toEqual(expected);
  });

  it('never hands a node its own publish, even when it is subscribed', async () => {
    reset();
    a.subscribe('bob');
    b.subscribe('bob');
    await settle();
    a.publish('bob', push('x'));
    await settle();
    expect(gotA).toEqual([]);
    expect(gotB).toEqual([{ topic: 'bob', msg: push('x') }]);
  });

  it('stops delivering after unsubscribe, and drops publishes nobody listens to', async () => {
    reset();
    b.subscribe('carol');
    await settle();
    b.unsubscribe('carol');
    await settle();
    a.publish('carol', push('late'));
    a.publish('nobody', push('void'));
    await settle();
    expect(gotB).toEqual([]);
  });

  it('says when a subscription holds: every publish after that reaches the node', async () => {
    reset();
    b.subscribe('ivy');
    const ready = b.listening('ivy');
    if (ready !== true) await ready;
    // No settling: the promise alone says the next publish is heard.
    a.publish('ivy', push('first'));
    await settle();
    expect(gotB).toEqual([{ topic: 'ivy', msg: push('first') }]);
    expect(b.listening('ivy')).toBe(true);
    // A topic nobody asked for needs no wait.
    expect(b.listening('never-asked')).toBe(true);
  });

  it('says it has peers when other nodes share it', () => {
    expect([a.hasPeers, b.hasPeers, c.hasPeers]).toEqual([true, true, true]);
  });

  it('tells a publisher that asks how many other nodes its message reached, its own subscription aside', async () => {
    b.subscribe('fran');
    a.subscribe('fran');
    a.subscribe('gus');
    b.subscribe('hal');
    c.subscribe('hal');
    await settle();
    const reached: Record<string, number> = {};
    for (const topic of ['fran', 'gus', 'hal', 'nobody-here']) a.publish(topic, push(topic), (_msg, others) => (reached[topic] = others));
    // Published without asking: never reported.
    a.publish('nobody-either', push('x'));
    await settle();
    expect(reached).toEqual({ fran: 1, gus: 0, hal: 2, 'nobody-here': 0 });
  });

  it('keeps topics apart', async () => {
    reset();
    b.subscribe('dave');
    c.subscribe('erin');
    await settle();
    a.publish('dave', push('d'));
    a.publish('erin', push('e'));
    await settle();
    expect(gotB.map((g) => g.topic)).toEqual(['dave']);
    expect(gotC.map((g) => g.topic)).toEqual(['erin']);
  });
});

describe('memory bus alone', () => {
  it('has no peers until another node joins its broker, so the writer need not hold entries for other nodes', async () => {
    const broker = new MemoryBroker();
    const alone = new MemoryBus('solo', broker);
    expect(alone.hasPeers).toBe(false);
    const other = new MemoryBus('other', broker);
    expect(alone.hasPeers).toBe(true);
    await other.close();
    expect(alone.hasPeers).toBe(false);
    const reached = await new Promise<number | undefined>((resolve) => {
      alone.publish('anyone', push('x'), (_msg, others) => resolve(others));
      setTimeout(() => resolve(undefined), 1000);
    });
    expect(reached).toBe(0);
  });
});

describe.skipIf(!hasRedisServer)('redis bus after publishes it lost', () => {
  it('asks the other nodes to resync once it can publish again, though their subscribers saw no outage; requests close together make two resyncs', async () => {
    const r = await startThrowawayRedis();
    const node = (id: string) => new RedisBus({ target: { kind: 'single', url: r.url }, nodeId: id, prefix: 'lost', commandTimeoutMs: 300, log });
    const b = node('b');
    const senders = ['a', 'c', 'd'].map(node);
    try {
      await Promise.all([b, ...senders].map((n) => n.ready()));
      for (const n of [b, ...senders]) n.subscribe(BROADCAST);
      b.subscribe('bob');
      const at: number[] = [];
      b.onResync(() => at.push(Date.now()));
      // What b sees, in order: each loss it learns of, and each message it hands on.
      const seen: string[] = [];
      b.onLoss(() => seen.push('loss'));
      b.onMessage((_topic, msg) => seen.push(msg.k === 'push' ? msg.frame : msg.k));
      const gotB = collect(b);
      await settle();
      senders[0]!.publish('bob', push('fine'));
      await settle();
      expect(at).toEqual([]);
      // Redis stalls: every sender's publish times out, while no connection closes.
      r.pause();
      for (const n of senders) n.publish('bob', push('lost'));
      await new Promise((resolve) => setTimeout(resolve, 600));
      r.resume();
      const t0 = Date.now();
      for (const n of senders) n.publish('bob', push('next'));
      for (let i = 0; at.length < 2 && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 30));
      await new Promise((resolve) => setTimeout(resolve, 500));
      // Three requests: one resync at once, and the rest folded into one a second later.
      expect(at).toHaveLength(2);
      expect(at[0]! - t0).toBeLessThan(900);
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
      expect(gotB.filter((g) => JSON.stringify(g.msg) === JSON.stringify(push('next')))).toHaveLength(3);
      // Every request is a loss learnt at once, never folded, and each comes before the message it arrived with.
      const after = seen.slice(seen.indexOf('loss'));
      expect(after.filter((x) => x === 'loss')).toHaveLength(3);
      for (let i = 0, losses = 0; i < after.length; i++) {
        if (after[i] === 'loss') losses++;
        else expect(losses).toBeGreaterThan(0);
      }
      expect(seen.indexOf('loss')).toBeLessThan(seen.lastIndexOf('next'));
    } finally {
      await Promise.all([b, ...senders].map((n) => n.close()));
      await r.stop();
    }
  });
});

/** Two nodes, a and b, on a throwaway Redis the test may stall or kill; both and the server are gone afterwards. */
async function onThrowawayRedis(prefix: string, commandTimeoutMs: number, test: (r: ThrowawayRedis, a: RedisBus, b: RedisBus) => Promise<void>): Promise<void> {
  const r = await startThrowawayRedis();
  const node = (id: string) => new RedisBus({ target: { kind: 'single', url: r.url }, nodeId: id, prefix, commandTimeoutMs, log });
  const [a, b] = [node('a'), node('b')];
  try {
    await Promise.all([a.ready(), b.ready()]);
    await test(r, a, b);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await r.stop();
  }
}

describe.skipIf(!hasRedisServer)('redis bus asking for resyncs during a stall', () => {
  it('has one request on its way at a time, so a long stall ends in one or two resyncs, not one per turn', () =>
    onThrowawayRedis('stall', 100, async (r, a, b) => {
      b.subscribe(BROADCAST);
      b.subscribe('bob');
      let losses = 0;
      b.onLoss(() => losses++);
      const gotB = collect(b);
      await settle();
      r.pause();
      // Forty turns of publishing while every publish times out: before, each turn after the first failure sent a request.
      for (let i = 0; i < 40; i++) {
        a.publish('bob', push(`stalled ${i}`));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      r.resume();
      a.publish('bob', push('after'));
      for (let i = 0; !gotB.some((g) => JSON.stringify(g.msg) === JSON.stringify(push('after'))) && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 30));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(losses).toBeGreaterThanOrEqual(1);
      expect(losses).toBeLessThanOrEqual(2);
    }));
});

describe.skipIf(!hasRedisServer)('redis bus subscribing while Redis is down', () => {
  it('asks again until Redis confirms, and says so only then', () =>
    onThrowawayRedis('down', 300, async (r, a, b) => {
      const gotB = collect(b);
      await r.kill();
      b.subscribe('zoe');
      const waiting = b.listening('zoe');
      expect(waiting).not.toBe(true);
      let heard = false;
      void (waiting as Promise<void>).then(() => (heard = true));
      // ioredis gives up the SUBSCRIBE it queued while the server was away.
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(heard).toBe(false);
      await r.restart();
      await waiting;
      a.publish('zoe', push('after'));
      for (let i = 0; gotB.length === 0 && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 30));
      expect(gotB).toEqual([{ topic: 'zoe', msg: push('after') }]);
    }));

  it('says a topic it held is not heard once its subscriber loses Redis, and heard again only once Redis confirms it anew', () =>
    onThrowawayRedis('again', 300, async (r, a, b) => {
      b.subscribe('ann');
      await b.listening('ann');
      expect(b.listening('ann')).toBe(true);
      await r.kill();
      for (let i = 0; b.listening('ann') === true && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      const waiting = b.listening('ann');
      expect(waiting).not.toBe(true);
      await r.restart();
      await a.ready();
      await waiting;
      // The moment it says so, another node's publish reaches it.
      const reached = await new Promise<number>((resolve) => a.publish('ann', push('back'), (_msg, others) => resolve(others)));
      expect(reached).toBe(1);
    }));

  it('stops waiting when the topic is given up', async () => {
    const r = await startThrowawayRedis();
    const b = new RedisBus({ target: { kind: 'single', url: r.url }, nodeId: 'b', prefix: 'gone', commandTimeoutMs: 300, log });
    try {
      await b.ready();
      r.pause();
      b.subscribe('yan');
      const waiting = b.listening('yan');
      expect(waiting).not.toBe(true);
      b.unsubscribe('yan');
      await waiting;
      expect(b.listening('yan')).toBe(true);
    } finally {
      r.resume();
      await b.close();
      await r.stop();
    }
  });
});

describe.skipIf(!redis)('redis bus and payloads it cannot read', () => {
  it('drops a payload in another format, warns once for several, and reads what follows', async () => {
    const lines: string[] = [];
    const warnLog = createLogger('warn', {}, (line) => {
      lines.push(line);
      return true;
    });
    const prefix = `${redis!.prefix}${randomBytes(3).toString('hex')}`;
    const b = new RedisBus({ target: { kind: 'single', url: redis!.url }, nodeId: 'b', prefix, commandTimeoutMs: 1000, log: warnLog });
    const a = new RedisBus({ target: { kind: 'single', url: redis!.url }, nodeId: 'a', prefix, commandTimeoutMs: 1000, log });
    const raw = new Redis(redis!.url);
    try {
      await Promise.all([a.ready(), b.ready()]);
      b.subscribe('bob');
      const got = collect(b);
      await settle();
      // What an earlier release of the bus published: JSON, which this one does not read.
      for (let i = 0; i < 3; i++) await raw.publish(`${prefix}:bus:bob`, JSON.stringify({ n: 'old', m: [push('from an old node')] }));
      a.publish('bob', push('from a node of this release'));
      await settle();
      expect(got).toEqual([{ topic: 'bob', msg: push('from a node of this release') }]);
      const warnings = lines.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.level === 'warn');
      expect(warnings.map((w) => w.msg)).toEqual(['bus payload not understood; do all nodes run the same release?']);
    } finally {
      raw.disconnect();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
