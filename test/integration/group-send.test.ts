import { describe, expect, it } from 'vitest';
import { uid } from '../helpers/relay-fixture.ts';
import { postgresUrl } from '../helpers/databases.ts';
import { redisSkipReason, testRedis } from '../helpers/redis.ts';
import { useCluster } from '../helpers/cluster.ts';
import { b64, type Frame, type TestClient } from '../helpers/ws-client.ts';

/**
 * One `send` to several users (a group), across two nodes: checked whole,
 * stored under one id, one sent_ack, every member device gets it once,
 * also from the backlog.
 */
const redis = await testRedis();
const skip = !postgresUrl || !redis;
if (skip) console.warn(`group send tests skipped: ${!postgresUrl ? 'DATABASE_URL is not set (two nodes need one shared Postgres)' : redisSkipReason}`);

/** The frame answering or delivering `id`: sent_ack and deliver carry it as message_id, an error as id. */
const isFor = (id: string) => (f: Frame) => f.message_id === id || (f.type === 'error' && f.id === id);
const to = (user: string, devices: string[], id: string) => ({ to: user, messages: devices.map((d) => ({ device_id: d, ciphertext: b64(`${id}/${user}/${d}`) })) });
const groupSend = (c: TestClient, id: string, recipients: ReturnType<typeof to>[], groupId = 'g1') => c.send({ type: 'send', id, payload: { recipients, group_id: groupId, message_type: 'text' } });

describe.skipIf(skip)('group sends across two nodes', () => {
  const env = { MAX_GROUP_RECIPIENTS: '4', MAX_GROUP_ROWS: '6' };
  const cluster = useCluster(redis!, { group1: env, group2: env });
  const url = (i: number) => cluster.nodes[i]!.url;

  it('stores one message for every member device, acks once, and delivers each its own ciphertext once, live and from the backlog', async () => {
    const [alice, bob, carol, dave] = [uid('alice'), uid('bob'), uid('carol'), uid('dave')];
    const a1 = await cluster.accounts.online(alice, 'a1', url(0));
    const a2 = await cluster.accounts.online(alice, 'a2', url(1));
    const b1 = await cluster.accounts.online(bob, 'b1', url(1));
    const b2 = await cluster.accounts.online(bob, 'b2', url(0));
    const c1 = await cluster.accounts.online(carol, 'c1', url(1));
    const d1 = await cluster.accounts.online(dave, 'd1', url(0));
    await d1.close();
    const recipients = [to(bob, ['b1', 'b2'], 'm1'), to(carol, ['c1'], 'm1'), to(dave, ['d1'], 'm1'), to(alice, ['a2'], 'm1')];
    groupSend(a1, 'm1', recipients);
    const ack = await a1.next(isFor('m1'));
    expect(ack.type).toBe('sent_ack');
    for (const [c, user, device] of [
      [b1, bob, 'b1'],
      [b2, bob, 'b2'],
      [c1, carol, 'c1'],
      [a2, alice, 'a2'],
    ] as const) {
      const f = await c.next(isFor('m1'));
      expect(f).toMatchObject({ type: 'deliver', sender_id: alice, sender_device: 'a1', payload: { ciphertext: b64(`m1/${user}/${device}`), group_id: 'g1', group_size: 4, message_type: 'text' } });
    }
    // A retry under the same id is answered again and stores nothing more.
    groupSend(a1, 'm1', recipients);
    expect((await a1.next(isFor('m1'))).type).toBe('sent_ack');
    // Dave was offline: his copy waits in the queue.
    const d1again = await cluster.accounts.online(dave, 'd1', url(1));
    expect(
      d1again
        .all('deliver')
        .filter(isFor('m1'))
        .map((f) => f.payload.ciphertext),
    ).toEqual([b64(`m1/${dave}/d1`)]);
    for (const c of [b1, b2, c1, a2, d1again]) c.send({ type: 'delivery_ack', payload: { message_ids: ['m1'] } });
    // Receipts come from the other users' devices (a user's own devices send none to each other).
    const receipts = new Set<string>();
    while (receipts.size < 4) {
      const f = await a1.next((x) => x.type === 'status_update' && x.message_id === 'm1');
      receipts.add(`${f.payload['recipient_id'] as string}/${f.payload['recipient_device'] as string}`);
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const c of [b1, b2, c1, a2]) expect(c.all('deliver').filter(isFor('m1'))).toHaveLength(1);
    const rows = await cluster.db.query<{ n: number }>('select count(*)::int as n from queue where message_id = $1 and sender_user = $2', ['m1', alice]);
    expect(rows[0]!.n).toBe(0);
    await Promise.all([a1, a2, b1, b2, c1, d1again].map((c) => c.close()));
  });

  it("refuses the whole message when any member's devices differ, naming each such user, and takes the corrected one under the same id", async () => {
    const [alice, bob, carol] = [uid('alice'), uid('bob'), uid('carol')];
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const b1 = await cluster.accounts.online(bob, 'b1', url(1));
    const b2 = await cluster.accounts.online(bob, 'b2', url(1));
    const c = await cluster.accounts.online(carol, 'c1', url(0));
    groupSend(a, 'm2', [to(bob, ['b1'], 'm2'), to(carol, ['c1', 'c9'], 'm2')]);
    const refused = await a.next(isFor('m2'));
    expect(refused.type).toBe('error');
    expect(refused.payload.error_code).toBe('mismatched_devices');
    expect(refused.payload['mismatches']).toEqual([
      { user_id: bob, missing: ['b2'], extra: [] },
      { user_id: carol, missing: [], extra: ['c9'] },
    ]);
    await new Promise((r) => setTimeout(r, 300));
    expect([...b1.all('deliver'), ...c.all('deliver')].filter(isFor('m2'))).toEqual([]);
    groupSend(a, 'm2', [to(bob, ['b1', 'b2'], 'm2'), to(carol, ['c1'], 'm2')]);
    expect((await a.next(isFor('m2'))).type).toBe('sent_ack');
    for (const r of [b1, b2, c]) await r.next(isFor('m2'));
    await Promise.all([a, b1, b2, c].map((x) => x.close()));
  });

  it('answers a group over the bounds with group_too_large and a user named twice with invalid_message, storing nothing', async () => {
    const alice = uid('alice');
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const many = ['u1', 'u2', 'u3', 'u4', 'u5'].map((u) => to(u, ['d1'], 'm3'));
    groupSend(a, 'm3', many);
    expect((await a.next(isFor('m3'))).payload).toMatchObject({ error_code: 'group_too_large', max_recipients: 4, max_rows: 6 });
    groupSend(a, 'm4', [to('u1', ['d1', 'd2', 'd3', 'd4'], 'm4'), to('u2', ['d1', 'd2', 'd3'], 'm4')]);
    expect((await a.next(isFor('m4'))).payload).toMatchObject({ error_code: 'group_too_large' });
    groupSend(a, 'm5', [to('u1', ['d1'], 'm5'), to('u1', ['d2'], 'm5')]);
    expect((await a.next(isFor('m5'))).payload).toMatchObject({ error_code: 'invalid_message', message: 'payload.recipients: a user appears twice' });
    const rows = await cluster.db.query<{ n: number }>('select count(*)::int as n from queue where sender_user = $1', [alice]);
    expect(rows[0]!.n).toBe(0);
    await a.close();
  });
});
