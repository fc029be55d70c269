import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryPresence } from '../../src/presence/memory-presence.ts';
import type { Presence, PresenceTiming } from '../../src/presence/presence.ts';
import { RedisPresence } from '../../src/presence/redis-presence.ts';
import { redisSkipReason, testRedis } from '../helpers/redis.ts';

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
if (redis) {
  factories.push({
    name: 'redis',
    async pair() {
      const prefix = `${redis.prefix}${randomBytes(3).toString('hex')}`;
      const a = new RedisPresence(redis.url, prefix, timing, 1000);
      const b = new RedisPresence(redis.url, prefix, timing, 1000);
      await Promise.all([a.ready(), b.ready()]);
      opened.push(a, b);
      return [a, b];
    },
  });
}
afterAll(async () => {
  await Promise.all(opened.map((p) => p.close()));
  await redis?.stop();
});

const lease = (user: string, device: string, conn: string) => ({ user, device, conn });

describe.each(factories)('presence contract: $name', (f) => {
  const t0 = Date.now();

  it('reports a user online on the first lease only', async () => {
    const [a, b] = await f.pair();
    expect(await a.connect(lease('u', 'd1', 'c1'), t0)).toBe(true);
    expect(await b.connect(lease('u', 'd2', 'c2'), t0 + 1)).toBe(false);
    expect(await a.onlineAmong(['u', 'nobody'], t0 + 2)).toEqual(new Set(['u']));
  });

  it('answers a repeated connect of the same lease as the first (a retry after a lost reply)', async () => {
    const [a, b] = await f.pair();
    expect(await a.connect(lease('r', 'd1', 'c1'), t0)).toBe(true);
    expect(await a.connect(lease('r', 'd1', 'c1'), t0 + 1)).toBe(true);
    expect(await b.connect(lease('r', 'd2', 'c2'), t0 + 2)).toBe(false);
    expect(await a.connect(lease('r', 'd1', 'c1'), t0 + 3)).toBe(false);
  });

  it('reports offline once, after the last lease\'s grace period, to exactly one reaper', async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('v', 'd1', 'c1'), t0);
    await b.connect(lease('v', 'd2', 'c2'), t0);
    await a.disconnect(lease('v', 'd1', 'c1'), t0 + 10);
    await b.disconnect(lease('v', 'd2', 'c2'), t0 + 20);
    expect([...(await a.reap(t0 + 1000)), ...(await b.reap(t0 + 1000))]).toEqual([]);
    expect(await a.onlineAmong(['v'], t0 + 1000)).toEqual(new Set(['v']));
    const [r1, r2] = await Promise.all([a.reap(t0 + 2500), b.reap(t0 + 2500)]);
    expect([...r1, ...r2]).toEqual(['v']);
    expect(await a.reap(t0 + 3000)).toEqual([]);
    expect(await a.onlineAmong(['v'], t0 + 3000)).toEqual(new Set());
  });

  it('debounces a quick reconnect: no offline, no second online', async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('w', 'd1', 'c1'), t0);
    await a.disconnect(lease('w', 'd1', 'c1'), t0 + 100);
    expect(await b.connect(lease('w', 'd1', 'c2'), t0 + 500)).toBe(false);
    expect(await a.reap(t0 + 5000)).toEqual([]);
    expect(await a.onlineAmong(['w'], t0 + 5000)).toEqual(new Set(['w']));
  });

  it('lets a lease that nobody refreshes (its node died) expire within the TTL', async () => {
    const [a, b] = await f.pair();
    await a.connect(lease('x', 'd1', 'c1'), t0);
    expect(await b.reap(t0 + timing.ttlMs - 1)).toEqual([]);
    expect(await b.reap(t0 + timing.ttlMs + 1)).toEqual(['x']);
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
    expect(await a.reap(t0 + timing.ttlMs + 1)).toEqual([]);
    expect(await a.onlineAmong(['y'], t0 + timing.ttlMs + 1)).toEqual(new Set(['y']));
  });
});
