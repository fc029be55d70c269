import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryPresence } from '../../src/presence/memory-presence.ts';
import { userStatus, type Presence, type PresenceTiming } from '../../src/presence/presence.ts';
import { bucketOf, CLAIM_MS, RedisPresence } from '../../src/presence/redis-presence.ts';
import { redisSkipReason, testRedis } from '../helpers/redis.ts';
import type { RedisTarget } from '../../src/config/redis-target.ts';
import { hasRedisCluster, startThrowawayRedisCluster } from '../../tools/throwaway-redis-cluster.ts';

const timing: PresenceTiming = { ttlMs: 10_000, graceMs: 2_000 };
const redis = await testRedis();
if (!redis) console.warn(redisSkipReason);

interface Factory {
  name: string;
  /** Two handles on the same presence state (two nodes). */
  pair(): Promise<[Presence, Presence]>;
}
const opened: Presence[] = [];
const factories: Factory[] = [
  {
    name: 'memory',
    async pair() {
      const p = new MemoryPresence(timing);
      return [p, p];
    },
  },
];
/** Two Redis presences on `target` (a single Redis, or a cluster), on a fresh prefix. */
const redisFactory = (name: string, target: RedisTarget, prefix: string): Factory => ({
  name,
  async pair() {
    const p = `${prefix}${randomBytes(3).toString('hex')}`;
    const a = new RedisPresence(target, p, timing, 1000);
    const b = new RedisPresence(target, p, timing, 1000);
    await Promise.all([a.ready(), b.ready()]);
    opened.push(a, b);
    return [a, b];
  },
});
if (redis) factories.push(redisFactory('redis', { kind: 'single', url: redis.url }, redis.prefix));
// A private three-master Redis Cluster: every script must touch keys of one slot only.
const cluster = hasRedisCluster ? await startThrowawayRedisCluster(3) : undefined;
if (!cluster) console.warn('redis cluster presence tests skipped: redis-server and redis-cli are not installed');
if (cluster) factories.push(redisFactory('redis cluster', cluster.target, 'cluster'));
afterAll(async () => {
  await Promise.all(opened.map((p) => p.close()));
  await redis?.stop();
  await cluster?.stop();
});

const lease = (user: string, device: string, conn: string) => ({ user, device, conn });
/** The users a reaper pass reports offline. */
const off = async (p: Presence, now: number) => (await p.reap(now)).offline;

describe.each(factories)('presence contract: $name', (f) => {
  const t0 = Date.now();

  it('reports a user online on the first lease only, then each device joining, then nothing for a second connection of a device', async () => {
    const [a, b] = await f.pair();
    expect(await a.connect(lease('u', 'd1', 'c1'), t0)).toBe('user');
    expect(await b.connect(lease('u', 'd2', 'c2'), t0 + 1)).toBe('device');
    expect(await b.connect(lease('u', 'd1', 'c3'), t0 + 1)).toBe('again');
    expect(await a.onlineAmong(['u', 'nobody'], t0 + 2)).toEqual(new Set(['u']));
  });

  it('answers a repeated connect of the same lease as the first (a retry after a lost reply)', async () => {
    const [a, b] = await f.pair();
    expect(await a.connect(lease('r', 'd1', 'c1'), t0)).toBe('user');
    expect(await a.connect(lease('r', 'd1', 'c1'), t0 + 1)).toBe('user');
    expect(await b.connect(lease('r', 'd2', 'c2'), t0 + 2)).toBe('device');
    expect(await b.connect(lease('r', 'd2', 'c2'), t0 + 2)).toBe('device');
    expect(await a.connect(lease('r', 'd1', 'c1'), t0 + 3)).toBe('device');
  });

  it("reports offline once, after the last lease's grace period, to exactly one reaper", async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('v', 'd1', 'c1'), t0);
    await b.connect(lease('v', 'd2', 'c2'), t0);
    await a.disconnect(lease('v', 'd1', 'c1'), t0 + 10);
    await b.disconnect(lease('v', 'd2', 'c2'), t0 + 20);
    expect([...(await off(a, t0 + 1000)), ...(await off(b, t0 + 1000))]).toEqual([]);
    expect(await a.onlineAmong(['v'], t0 + 1000)).toEqual(new Set(['v']));
    const [r1, r2] = await Promise.all([off(a, t0 + 2500), off(b, t0 + 2500)]);
    expect([...r1, ...r2]).toEqual(['v']);
    expect(await off(a, t0 + 3000)).toEqual([]);
    expect(await a.onlineAmong(['v'], t0 + 3000)).toEqual(new Set());
  });

  it('debounces a quick reconnect: no offline, no second online', async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('w', 'd1', 'c1'), t0);
    await a.disconnect(lease('w', 'd1', 'c1'), t0 + 100);
    expect(await b.connect(lease('w', 'd1', 'c2'), t0 + 500)).toBe('again');
    expect(await off(a, t0 + 5000)).toEqual([]);
    expect(await a.onlineAmong(['w'], t0 + 5000)).toEqual(new Set(['w']));
  });

  it('lets a lease that nobody refreshes (its node died) expire within the TTL', async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('x', 'd1', 'c1'), t0);
    expect(await off(b, t0 + timing.ttlMs - 1)).toEqual([]);
    expect(await off(b, t0 + timing.ttlMs + 1)).toEqual(['x']);
  });

  it('counts live leases per user, optionally leaving one device out', async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('z', 'd1', 'c1'), t0);
    await b.connect(lease('z', 'd2', 'c2'), t0);
    await b.connect(lease('z', 'd2', 'c3'), t0);
    expect(await a.countLive('z', t0 + 1)).toBe(3);
    expect(await a.countLive('z', t0 + 1, 'd2')).toBe(1);
    await a.disconnect(lease('z', 'd1', 'c1'), t0 + 1);
    expect(await b.countLive('z', t0 + timing.graceMs + 2)).toBe(2);
    expect(await b.countLive('z', t0 + timing.ttlMs + 1)).toBe(0);
  });

  it('names the devices holding a live lease, on every node', async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('w', 'd1', 'c1'), t0);
    await b.connect(lease('w', 'd2', 'c2'), t0);
    await b.connect(lease('w', 'd2', 'c3'), t0);
    expect([...(await a.liveDevices('w', t0 + 1))].sort()).toEqual(['d1', 'd2']);
    await a.disconnect(lease('w', 'd1', 'c1'), t0 + 1);
    expect([...(await b.liveDevices('w', t0 + timing.graceMs + 2))]).toEqual(['d2']);
    expect((await a.liveDevices('w', t0 + timing.ttlMs + 1)).size).toBe(0);
    expect((await a.liveDevices('nobody', t0)).size).toBe(0);
  });

  it('keeps refreshed leases alive, and the end of an older connection does not cut a newer one short', async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('y', 'd1', 'old'), t0);
    await b.connect(lease('y', 'd1', 'new'), t0 + 1);
    await a.disconnect(lease('y', 'd1', 'old'), t0 + 2);
    await b.refresh([lease('y', 'd1', 'new')], t0 + timing.ttlMs / 2);
    expect(await off(a, t0 + timing.ttlMs + 1)).toEqual([]);
    expect(await a.onlineAmong(['y'], t0 + timing.ttlMs + 1)).toEqual(new Set(['y']));
  });
  it('describes live devices with the state each set (online until it says otherwise), on every node', async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('s', 'phone', 'c1'), t0);
    await b.connect(lease('s', 'web', 'c2'), t0);
    await b.setState('s', 'web', 'online', 'web', t0);
    await a.setState('s', 'phone', 'busy', 'mobile', t0 + 1);
    const seen = await b.describe(['s', 'nobody'], t0 + 2);
    expect(seen.get('s')).toEqual({
      devices: [
        { device: 'phone', state: 'busy', type: 'mobile' },
        { device: 'web', state: 'online', type: 'web' },
      ],
      lastSeen: undefined,
    });
    expect(seen.get('nobody')).toEqual({ devices: [], lastSeen: undefined });
    expect(userStatus(seen.get('s')!.devices)).toBe('busy');
    // A device with no state recorded shows as online, type unknown.
    await a.connect(lease('s', 'tablet', 'c3'), t0 + 3);
    expect((await a.describe(['s'], t0 + 4)).get('s')!.devices.find((d) => d.device === 'tablet')).toEqual({ device: 'tablet', state: 'online', type: null });
  });

  it('reports a device that left while its user stays online as thinned, once, and drops its state', async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('th', 'd1', 'c1'), t0);
    await a.connect(lease('th', 'd2', 'c2'), t0);
    await a.setState('th', 'd2', 'away', 'mobile', t0);
    await a.disconnect(lease('th', 'd2', 'c2'), t0 + 10);
    const [r1, r2] = await Promise.all([a.reap(t0 + timing.graceMs + 100), b.reap(t0 + timing.graceMs + 100)]);
    expect([...r1.thinned, ...r2.thinned]).toEqual(['th']);
    expect([...r1.offline, ...r2.offline]).toEqual([]);
    expect((await b.describe(['th'], t0 + timing.graceMs + 200)).get('th')!.devices.map((d) => d.device)).toEqual(['d1']);
    // It comes back with no state of its own: online again.
    await b.connect(lease('th', 'd2', 'c3'), t0 + timing.graceMs + 300);
    expect((await a.describe(['th'], t0 + timing.graceMs + 400)).get('th')!.devices.find((d) => d.device === 'd2')!.state).toBe('online');
  });

  it('keeps a last-seen time for a user once offline, and none while online', async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('ls', 'd1', 'c1'), t0);
    await a.setState('ls', 'd1', 'away', null, t0);
    await a.disconnect(lease('ls', 'd1', 'c1'), t0 + 10);
    const gone = t0 + timing.graceMs + 100;
    expect(await off(b, gone)).toEqual(['ls']);
    expect((await a.describe(['ls'], gone + 1)).get('ls')).toEqual({ devices: [], lastSeen: gone });
    await b.connect(lease('ls', 'd1', 'c2'), gone + 50);
    expect((await a.describe(['ls'], gone + 60)).get('ls')).toEqual({ devices: [{ device: 'd1', state: 'online', type: null }], lastSeen: undefined });
  });

  it('ends many users in one pass of two reapers at once, each exactly once', async () => {
    const [a, b] = await f.pair();
    const users = Array.from({ length: 300 }, (_, i) => `many${i}`);
    await Promise.all(users.map((u, i) => (i % 2 ? a : b).connect(lease(u, 'd1', 'c1'), t0)));
    await Promise.all(users.map((u, i) => (i % 2 ? b : a).disconnect(lease(u, 'd1', 'c1'), t0 + 1)));
    const [r1, r2] = await Promise.all([off(a, t0 + timing.graceMs + 10), off(b, t0 + timing.graceMs + 10)]);
    expect([...r1, ...r2].sort()).toEqual([...users].sort());
    expect(await a.onlineAmong(users, t0 + timing.graceMs + 20)).toEqual(new Set());
  });
});

describe.skipIf(!redis)('presence in Redis: a reaper that stops halfway', () => {
  /** A presence on a fresh prefix of the test Redis, with a raw client beside it to leave behind what a failed reaper would. */
  const withRaw = async (fn: (p: RedisPresence, raw: Redis, prefix: string) => Promise<void>) => {
    const prefix = `${redis!.prefix}reap${randomBytes(3).toString('hex')}`;
    const p = new RedisPresence({ kind: 'single', url: redis!.url }, prefix, timing, 1000);
    const raw = new Redis(redis!.url);
    opened.push(p);
    await p.ready();
    try {
      await fn(p, raw, prefix);
    } finally {
      raw.disconnect();
    }
  };

  it('leaves the leases it claimed to the next reaper once its claim ends: the user goes offline late, not never', async () => {
    await withRaw(async (p, raw, prefix) => {
      const t0 = Date.now();
      await p.connect(lease('cl', 'd1', 'c1'), t0);
      await p.disconnect(lease('cl', 'd1', 'c1'), t0 + 1);
      // What a reaper that claimed the entry and then died leaves behind: the entry pushed to its claim's end.
      const claimEnd = t0 + timing.graceMs + 100 + CLAIM_MS;
      await raw.zadd(`${prefix}:pres:leases:{${bucketOf('cl')}}`, claimEnd, 'cl|d1|c1');
      expect(await off(p, t0 + timing.graceMs + 200)).toEqual([]);
      expect(await p.onlineAmong(['cl'], t0 + timing.graceMs + 200)).toEqual(new Set());
      expect(await off(p, claimEnd + 1)).toEqual(['cl']);
      expect(await off(p, claimEnd + 2)).toEqual([]);
    });
  });

  it('reports the users a pass settled even when settling another one failed, and settles that one once its claim ends', async () => {
    await withRaw(async (p, raw, prefix) => {
      const t0 = Date.now();
      for (const u of ['ok1', 'ok2', 'bad']) {
        await p.connect(lease(u, 'd1', 'c1'), t0);
        await p.disconnect(lease(u, 'd1', 'c1'), t0 + 1);
      }
      // A key of the wrong type makes the settle script fail for that user alone.
      await raw.del(`${prefix}:pres:{bad}:l`);
      await raw.set(`${prefix}:pres:{bad}:l`, 'not a sorted set');
      const at = t0 + timing.graceMs + 100;
      expect((await off(p, at)).sort()).toEqual(['ok1', 'ok2']);
      await raw.del(`${prefix}:pres:{bad}:l`);
      expect(await off(p, at + 1)).toEqual([]);
      // Once its claim ends the entry is taken again; with no lease left it is simply dropped from the index.
      expect(await off(p, at + CLAIM_MS + 1)).toEqual([]);
      expect(await raw.zcard(`${prefix}:pres:leases:{${bucketOf('bad')}}`)).toBe(0);
    });
  });
});
