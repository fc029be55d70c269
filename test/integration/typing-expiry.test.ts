import { describe, expect, it } from 'vitest';
import { uid } from '../helpers/relay-fixture.ts';
import { postgresUrl } from '../helpers/databases.ts';
import { redisSkipReason, testRedis } from '../helpers/redis.ts';
import { useCluster } from '../helpers/cluster.ts';
import type { Frame } from '../helpers/ws-client.ts';

/**
 * Typing indicators end by themselves: after TYPING_TTL_SECONDS with no
 * update, and at once when the typer's socket closes. The typer and the
 * recipient sit on different nodes, so the stop crosses the bus.
 */
const redis = await testRedis();
const skip = !postgresUrl || !redis;
if (skip) console.warn(`typing expiry tests skipped: ${!postgresUrl ? 'DATABASE_URL is not set (two nodes need one shared Postgres)' : redisSkipReason}`);

const typingOf = (user: string, conversation: string, isTyping: boolean) => (f: Frame) =>
  f.type === 'typing' && f.sender_id === user && f.payload['conversation_id'] === conversation && f.payload['is_typing'] === isTyping;

describe.skipIf(skip)('typing that expires, across two nodes', () => {
  const env = { TYPING_TTL_SECONDS: '2' };
  const cluster = useCluster(redis!, { typing1: env, typing2: env });
  const url = (i: number) => cluster.nodes[i]!.url;

  it('reaches the recipient as stopped when the typer sends no update for the ttl, and a renewal keeps it on', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const b = await cluster.accounts.online(bob, 'b1', url(1));
    const type = (conversation: string, isTyping: boolean) => a.send({ type: 'typing', payload: { to: bob, conversation_id: conversation, is_typing: isTyping } });
    type('c1', true);
    await b.next(typingOf(alice, 'c1', true));
    const started = Date.now();
    // Renewed twice a second for two seconds: no stop in that time.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 500));
      type('c1', true);
    }
    expect(b.frames.filter(typingOf(alice, 'c1', false))).toEqual([]);
    const renewedAt = Date.now();
    const stop = await b.next(typingOf(alice, 'c1', false), 6000);
    const after = Date.now() - renewedAt;
    expect(after).toBeGreaterThanOrEqual(1500);
    expect(after).toBeLessThan(4500);
    expect(stop.sender_device).toBe('a1');
    expect(Date.now() - started).toBeGreaterThan(3000);
    // An explicit false is forwarded once, and nothing follows it.
    type('c2', true);
    await b.next(typingOf(alice, 'c2', true));
    type('c2', false);
    await b.next(typingOf(alice, 'c2', false));
    await new Promise((r) => setTimeout(r, 3500));
    expect(b.frames.filter(typingOf(alice, 'c2', false))).toHaveLength(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('a typer that disconnects stops typing for everyone it was typing to', async () => {
    const [alice, bob, carol] = [uid('alice'), uid('bob'), uid('carol')];
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const b = await cluster.accounts.online(bob, 'b1', url(1));
    const c = await cluster.accounts.online(carol, 'c1', url(0));
    a.send({ type: 'typing', payload: { to: bob, conversation_id: 'with-bob', is_typing: true } });
    a.send({ type: 'typing', payload: { to: carol, conversation_id: 'with-carol', is_typing: true } });
    await b.next(typingOf(alice, 'with-bob', true));
    await c.next(typingOf(alice, 'with-carol', true));
    const left = Date.now();
    a.ws.terminate();
    await b.next(typingOf(alice, 'with-bob', false), 1500);
    await c.next(typingOf(alice, 'with-carol', false), 1500);
    expect(Date.now() - left).toBeLessThan(1500);
    await Promise.all([b.close(), c.close()]);
  });
});
