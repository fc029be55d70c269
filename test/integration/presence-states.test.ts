import { describe, expect, it } from 'vitest';
import { uid } from '../helpers/relay-fixture.ts';
import { postgresUrl } from '../helpers/databases.ts';
import { redisSkipReason, testRedis } from '../helpers/redis.ts';
import { useCluster } from '../helpers/cluster.ts';
import type { Frame, TestClient } from '../helpers/ws-client.ts';

/**
 * Presence states with devices, and the online-contacts query, across two
 * nodes: the device that sets a state and the contact who sees it are on
 * different nodes, so every update crosses the bus and the shared leases.
 */
const redis = await testRedis();
const skip = !postgresUrl || !redis;
if (skip) console.warn(`presence state tests skipped: ${!postgresUrl ? 'DATABASE_URL is not set (two nodes need one shared Postgres)' : redisSkipReason}`);

const entryOf = (f: Frame, user: string) => (f.payload['contacts'] as { user_id: string }[]).find((c) => c.user_id === user) as Record<string, unknown> | undefined;
const presenceOf = (user: string, status?: string) => (f: Frame) => f.type === 'presence' && entryOf(f, user) !== undefined && (status === undefined || entryOf(f, user)!['status'] === status);

describe.skipIf(skip)('presence states and online contacts, across two nodes', () => {
  const env = { PRESENCE_TTL_SECONDS: '3', PRESENCE_GRACE_SECONDS: '1', PRESENCE_REAP_MS: '200' };
  const cluster = useCluster(redis!, { states1: env, states2: env });
  const url = (i: number) => cluster.nodes[i]!.url;
  const befriend = async (x: TestClient, y: TestClient) => {
    x.send({ type: 'contact_add', payload: { user_id: y.user } });
    y.send({ type: 'contact_add', payload: { user_id: x.user } });
    await x.next(presenceOf(y.user));
    await y.next(presenceOf(x.user));
  };

  it('shows the state a device sets, the user status across its devices, devices joining and leaving, and last_seen', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a1 = await cluster.accounts.online(alice, 'a1', url(0));
    const b = await cluster.accounts.online(bob, 'b1', url(1));
    await befriend(a1, b);

    a1.send({ type: 'presence', payload: { status: 'away' } });
    const away = entryOf(await b.next(presenceOf(alice, 'away')), alice);
    expect(away).toEqual({ user_id: alice, online: true, status: 'away', devices: [{ device_id: 'a1', device_type: 'test', status: 'away' }] });

    // A second device joins on the other node: it is active, so the user is online again, with both devices listed.
    const a2 = await cluster.accounts.online(alice, 'a2', url(1));
    const both = entryOf(await b.next(presenceOf(alice, 'online')), alice)!;
    expect(both['devices']).toEqual([
      { device_id: 'a1', device_type: 'test', status: 'away' },
      { device_id: 'a2', device_type: 'test', status: 'online' },
    ]);
    // busy on one device holds for the person.
    a2.send({ type: 'presence', payload: { status: 'busy' } });
    expect(entryOf(await b.next(presenceOf(alice, 'busy')), alice)!['devices']).toEqual([
      { device_id: 'a1', device_type: 'test', status: 'away' },
      { device_id: 'a2', device_type: 'test', status: 'busy' },
    ]);

    // The busy device leaves: after its grace period bob sees alice away, on one device.
    await a2.close();
    const thinned = entryOf(await b.next(presenceOf(alice, 'away'), 6000), alice)!;
    expect(thinned['devices']).toEqual([{ device_id: 'a1', device_type: 'test', status: 'away' }]);
    expect(b.frames.filter((f) => f.type === 'user_offline')).toEqual([]);

    // The last device leaves: user_offline with last_seen, and a later snapshot still knows when.
    await a1.close();
    const offline = await b.next((f) => f.type === 'user_offline' && f.payload['user_id'] === alice, 6000);
    const lastSeen = Date.parse(offline.payload['last_seen'] as string);
    await b.close();
    const again = await cluster.accounts.online(bob, 'b1', url(0));
    // The snapshot and queue_empty come in either order, and online() has already read past queue_empty.
    const snapshot = entryOf(await again.seen(presenceOf(alice)), alice)!;
    expect(snapshot).toMatchObject({ user_id: alice, online: false, status: 'offline', devices: [] });
    expect(Math.abs(Date.parse(snapshot['last_seen'] as string) - lastSeen)).toBeLessThan(2000);

    // Back online: user_online carries the devices, and a state set before reconnecting is not kept.
    const a1again = await cluster.accounts.online(alice, 'a1', url(1));
    const back = await again.next((f) => f.type === 'user_online' && f.payload['user_id'] === alice);
    expect(back.payload).toEqual({ user_id: alice, online: true, status: 'online', devices: [{ device_id: 'a1', device_type: 'test', status: 'online' }] });
    await Promise.all([a1again.close(), again.close()]);
  });

  it('answers online_contacts with the mutual contacts online now, on any node, and nobody else', async () => {
    const [me, friend, sleeper, stranger] = [uid('me'), uid('friend'), uid('sleeper'), uid('stranger')];
    const m = await cluster.accounts.online(me, 'm1', url(0));
    const f1 = await cluster.accounts.online(friend, 'f1', url(1));
    const f2 = await cluster.accounts.online(friend, 'f2', url(0));
    const s = await cluster.accounts.online(sleeper, 's1', url(1));
    const x = await cluster.accounts.online(stranger, 'x1', url(1));
    await befriend(m, f1);
    await befriend(m, s);
    // One-way: the stranger lists me, I do not list the stranger.
    x.send({ type: 'contact_add', payload: { user_id: me } });
    f2.send({ type: 'presence', payload: { status: 'away' } });
    await m.next(presenceOf(friend));
    await s.close();
    await m.next((f) => f.type === 'user_offline' && f.payload['user_id'] === sleeper, 6000);

    m.send({ type: 'online_contacts' });
    const answer = await m.next('online_contacts');
    expect(answer.payload['contacts']).toEqual([
      {
        user_id: friend,
        online: true,
        status: 'online',
        devices: [
          { device_id: 'f1', device_type: 'test', status: 'online' },
          { device_id: 'f2', device_type: 'test', status: 'away' },
        ],
      },
    ]);
    // The stranger asks too and learns nothing about me.
    x.send({ type: 'online_contacts', payload: {} });
    expect((await x.next('online_contacts')).payload['contacts']).toEqual([]);
    // A bad state is an error, and changes nothing.
    m.send({ type: 'presence', payload: { status: 'invisible' } });
    expect((await m.next('error')).payload.error_code).toBe('invalid_message');
    await Promise.all([m, f1, f2, x].map((c) => c.close()));
  });
});
