import { describe, expect, it } from 'vitest';
import { Accounts } from '../helpers/accounts.ts';
import { uid } from '../helpers/relay-fixture.ts';
import { createTestDatabase, postgresUrl } from '../helpers/databases.ts';
import { redisSkipReason, startThrowawayRedis, testRedis, testRedisCluster, hasRedisServer, type TestRedis } from '../helpers/redis.ts';
import { startRelay, tempDir } from '../../tools/relay-process.ts';
import { TEST_SECRET, token } from '../helpers/tokens.ts';
import { useCluster } from '../helpers/cluster.ts';
import { b64, TestClient, upgradeStatus, type Frame } from '../helpers/ws-client.ts';

/**
 * Several relay processes against one Postgres and one Redis behave as one
 * relay. Needs a shared Postgres (DATABASE_URL: PGlite belongs to a single
 * process) and a Redis (REDIS_URL, or a throwaway redis-server).
 */
const redis = await testRedis();
const skip = !postgresUrl || !redis;
if (skip) console.warn(`cluster tests skipped: ${!postgresUrl ? 'DATABASE_URL is not set (several nodes need one shared Postgres)' : redisSkipReason}`);
// The same suite on a private Redis Cluster: sharded pub/sub, presence keys under hash tags.
const redisCluster = postgresUrl ? await testRedisCluster() : undefined;
if (postgresUrl && !redisCluster) console.warn('cluster tests on a Redis Cluster skipped: redis-server and redis-cli are not installed');
const targets = (
  [
    { name: 'one Redis', redis },
    { name: 'a Redis Cluster', redis: redisCluster },
  ] as { name: string; redis: TestRedis | undefined }[]
).filter((t): t is { name: string; redis: TestRedis } => t.redis !== undefined);

const send = (c: TestClient, id: string, to: string, devices: string[]) => c.send({ type: 'send', id, payload: { to, messages: devices.map((d) => ({ device_id: d, ciphertext: b64(id) })) } });
const isFor = (id: string) => (f: Frame) => f.message_id === id;

describe.skipIf(!postgresUrl).each(targets)('three relay nodes, one Postgres, $name', ({ redis }) => {
  const env = { PRESENCE_TTL_SECONDS: '3', PRESENCE_GRACE_SECONDS: '1', PRESENCE_REAP_MS: '200', MAX_CONNECTIONS_PER_USER: '3' };
  const cluster = useCluster(redis, { node1: env, node2: env, node3: env });
  const url = (i: number) => cluster.nodes[i]!.url;

  it('delivers from node 1 to devices on nodes 2 and 3 exactly once, in order', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const b1 = await cluster.accounts.online(bob, 'b1', url(1));
    const b2 = await cluster.accounts.online(bob, 'b2', url(2));
    const ids = Array.from({ length: 40 }, (_, i) => `x${i}`);
    for (const id of ids) send(a, id, bob, ['b1', 'b2']);
    for (const id of ids) await a.next(isFor(id));
    await b1.next(isFor(ids.at(-1)!));
    await b2.next(isFor(ids.at(-1)!));
    // Acks on the recipients' nodes delete the rows and send receipts back across.
    b1.send({ type: 'delivery_ack', payload: { message_ids: ids } });
    await a.next((f) => f.type === 'status_update' && f.message_id === ids.at(-1));
    await new Promise((r) => setTimeout(r, 300));
    expect(b1.all('deliver').map((f) => f.message_id)).toEqual(ids);
    expect(b2.all('deliver').map((f) => f.message_id)).toEqual(ids);
    const rows = await cluster.db.query<{ n: number }>('select count(*)::int as n from queue where recipient_user = $1 and recipient_device = $2', [bob, 'b1']);
    expect(rows[0]!.n).toBe(0);
    await Promise.all([a, b1, b2].map((c) => c.close()));
  });

  it('relays a read receipt across nodes only for a message the reader received, and never a forged one', async () => {
    const [alice, bob, mallory] = [uid('alice'), uid('bob'), uid('mallory')];
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const b = await cluster.accounts.online(bob, 'b1', url(1));
    const m = await cluster.accounts.online(mallory, 'm1', url(2));
    const isRead = (f: Frame) => f.type === 'status_update' && f.payload['status'] === 'read';
    send(a, 'rx1', bob, ['b1']);
    await b.next(isFor('rx1'));
    b.send({ type: 'delivery_ack', payload: { message_ids: ['rx1'] } });
    await a.next((f) => f.type === 'status_update' && f.message_id === 'rx1' && f.payload['status'] === 'delivered');
    // Mallory, on a third node, claims to have read a message Alice sent Bob, and one never sent.
    m.send({ type: 'read_receipt', payload: { to: alice, message_ids: ['rx1', 'never-sent'] } });
    // Bob read it, on the node that took his ack.
    b.send({ type: 'read_receipt', payload: { to: alice, message_ids: ['rx1', 'never-sent'] } });
    expect(await a.next(isRead)).toMatchObject({ message_id: 'rx1', payload: { recipient_id: bob } });
    await new Promise((r) => setTimeout(r, 500));
    expect(
      a
        .all('status_update')
        .filter(isRead)
        .map((f) => [f.message_id, f.payload['recipient_id']]),
    ).toEqual([['rx1', bob]]);
    const rows = await cluster.db.query<{ n: number }>("select count(*)::int as n from queue where recipient_user = $1 and kind = 'status_update'", [alice]);
    // Two rows wait for Alice: delivered and read, both for rx1 from Bob; the forged receipts stored none.
    expect(rows[0]!.n).toBe(2);
    await Promise.all([a, b, m].map((c) => c.close()));
  });

  it('forwards ephemeral frames across nodes', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const b = await cluster.accounts.online(bob, 'b1', url(2));
    a.send({ type: 'typing', payload: { to: bob, conversation_id: 'c1', is_typing: true } });
    expect(await b.next('typing')).toMatchObject({ sender_id: alice, payload: { is_typing: true } });
    await Promise.all([a.close(), b.close()]);
  });

  it("rings a callee's devices on other nodes, an answer on one stops the other, and only parties signal the call", async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const b1 = await cluster.accounts.online(bob, 'b1', url(1));
    const b2 = await cluster.accounts.online(bob, 'b2', url(2));
    // The offer needs bob online somewhere: his devices' snapshots arrive once their leases are taken.
    await b1.seen('presence');
    await b2.seen('presence');
    a.send({ type: 'call_offer', payload: { to: bob, call_id: 'cc-1', sdp: 'offer' } });
    await b1.next('call_offer');
    await b2.next('call_offer');
    b1.send({ type: 'call_answer', payload: { to: alice, call_id: 'cc-1', sdp: 'answer' } });
    expect(await a.next('call_answer')).toMatchObject({ sender_device: 'b1', payload: { sdp: 'answer' } });
    expect(await b2.next('call_end')).toMatchObject({ payload: { call_id: 'cc-1', reason: 'answered_elsewhere' } });
    // Each node knows its own devices' calls: the parties signal each other across nodes, and nobody else may.
    b1.send({ type: 'ice_candidate', payload: { to: alice, call_id: 'cc-1', candidate: 'from-b1' } });
    expect(await a.next('ice_candidate')).toMatchObject({ sender_device: 'b1', payload: { candidate: 'from-b1' } });
    a.send({ type: 'ice_candidate', payload: { to: bob, call_id: 'cc-1', candidate: 'from-a1' } });
    expect(await b1.next('ice_candidate')).toMatchObject({ payload: { candidate: 'from-a1' } });
    b2.send({ type: 'ice_candidate', id: 'b2-late', payload: { to: alice, call_id: 'cc-1', candidate: 'x' } });
    expect(await b2.next('error')).toMatchObject({ id: 'b2-late', payload: { error_code: 'unknown_call' } });
    const m = await cluster.accounts.online(uid('mallory'), 'm1', url(2));
    m.send({ type: 'call_end', id: 'forged', payload: { to: bob, call_id: 'cc-1' } });
    expect(await m.next('error')).toMatchObject({ id: 'forged', payload: { error_code: 'unknown_call' } });
    // The callee hangs up on node 2: the caller's leg on node 1 ends with it.
    b1.send({ type: 'call_end', payload: { to: alice, call_id: 'cc-1' } });
    expect(await a.next('call_end')).toMatchObject({ sender_device: 'b1', payload: { call_id: 'cc-1' } });
    a.send({ type: 'ice_candidate', id: 'after-end', payload: { to: bob, call_id: 'cc-1', candidate: 'x' } });
    expect(await a.next('error')).toMatchObject({ id: 'after-end', payload: { error_code: 'unknown_call' } });
    expect(b1.all('call_end')).toHaveLength(0);
    await Promise.all([a, b1, b2, m].map((c) => c.close()));
  });

  it('holds the per-user connection cap across nodes', async () => {
    const user = uid('cap');
    const open: TestClient[] = [];
    for (const [i, device] of ['d1', 'd2', 'd3'].entries()) {
      const c = await TestClient.connect(url(i), user, device);
      c.send({ type: 'heartbeat' });
      await c.next('heartbeat_ack');
      open.push(c);
    }
    const bearer = { headers: { authorization: `Bearer ${await token(user, 'd4')}` } };
    expect(await upgradeStatus(url(0), bearer)).toBe(429);
    // A device that is already connected may reconnect (its old socket is replaced), on any node.
    const moved = await TestClient.connect(url(2), user, 'd1');
    expect(await open[0]!.closed).toBe(4409);
    await Promise.all([moved, open[1]!, open[2]!].map((c) => c.close()));
  });

  it('keeps one socket per device across nodes: 4409 for the older one', async () => {
    const user = uid('carol');
    const first = await cluster.accounts.online(user, 'c1', url(0));
    const second = await cluster.accounts.online(user, 'c1', url(1));
    expect(await first.closed).toBe(4409);
    second.send({ type: 'heartbeat' });
    await second.next('heartbeat_ack');
    await second.close();
  });

  it('runs the approval flow across nodes, and a revocation closes the device on its node', async () => {
    const user = uid('dora');
    const primary = await cluster.accounts.online(user, 'phone', url(0));
    // The laptop registers on node 3; the request reaches the primary on node 1 through the bus.
    const laptop = await cluster.accounts.online(user, 'laptop', url(2));
    primary.send({ type: 'device_revoke', payload: { device_id: 'laptop' } });
    expect(await laptop.closed).toBe(4403);
    await primary.close();
  });

  it('shares presence across nodes, between mutual contacts only', async () => {
    const [alice, bob, carol] = [uid('alice'), uid('bob'), uid('carol')];
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const c = await cluster.accounts.online(carol, 'c1', url(2));
    a.send({ type: 'contact_add', payload: { user_id: bob } });
    c.send({ type: 'contact_add', payload: { user_id: bob } });
    const b = await cluster.accounts.online(bob, 'b1', url(1));
    b.send({ type: 'contact_add', payload: { user_id: alice } });
    expect(await a.next((f) => f.type === 'presence' && JSON.stringify(f.payload).includes(bob))).toMatchObject({ payload: { contacts: [{ user_id: bob, online: true }] } });
    await b.close();
    expect(await a.next((f) => f.type === 'user_offline' && f.payload['user_id'] === bob, 5000)).toBeTruthy();
    const b2 = await cluster.accounts.online(bob, 'b1', url(2));
    expect(await a.next((f) => f.type === 'user_online' && f.payload['user_id'] === bob, 5000)).toBeTruthy();
    expect(c.frames.filter((f) => f.type === 'user_online' || f.type === 'user_offline')).toEqual([]);
    await Promise.all([a, b2, c].map((x) => x.close()));
  });

  it("delivers messages sent to a killed node's devices after they reconnect elsewhere, and its users go offline within the TTL", async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const b = await cluster.accounts.online(bob, 'b1', url(2));
    a.send({ type: 'contact_add', payload: { user_id: bob } });
    b.send({ type: 'contact_add', payload: { user_id: alice } });
    await a.next((f) => f.type === 'presence' && JSON.stringify(f.payload).includes(bob));
    cluster.nodes[2]!.child.kill('SIGKILL');
    await b.closed;
    const killedAt = Date.now();
    await a.next((f) => f.type === 'user_offline' && f.payload['user_id'] === bob, 8000);
    expect(Date.now() - killedAt).toBeLessThan(3000 + 1500);
    send(a, 'while-dead', bob, ['b1']);
    await a.next(isFor('while-dead'));
    const again = await TestClient.connect(url(1), bob, 'b1');
    await again.next('queue_empty');
    expect(again.all('deliver').map((f) => f.message_id)).toEqual(['while-dead']);
    await Promise.all([a.close(), again.close()]);
  });
});

describe.skipIf(!postgresUrl || !hasRedisServer)('a Redis outage', () => {
  it('keeps local delivery, loses nothing acked, and resumes cross-node delivery when Redis returns', async () => {
    await Accounts.ready();
    const db = await createTestDatabase('postgres');
    const r = await startThrowawayRedis();
    const env = { ...db.env, JWT_SECRET: TEST_SECRET, REDIS_URL: r.url, REDIS_TIMEOUT_MS: '300' };
    const [n1, n2] = await Promise.all([startRelay({ ...env, DATA_DIR: tempDir('o1'), NODE_ID: 'o1' }), startRelay({ ...env, DATA_DIR: tempDir('o2'), NODE_ID: 'o2' })]);
    try {
      const accounts = new Accounts(n1.url);
      const a = await accounts.online('alice', 'a1', n1.url);
      const local = await accounts.online('carl', 'c1', n1.url);
      const b = await accounts.online('bob', 'b1', n2.url);
      send(a, 'before', 'bob', ['b1']);
      await b.next(isFor('before'));

      await r.kill();
      send(a, 'during', 'bob', ['b1']);
      expect(await a.next(isFor('during'))).toMatchObject({ type: 'sent_ack' });
      send(a, 'local', 'carl', ['c1']);
      expect(await local.next(isFor('local'))).toMatchObject({ type: 'deliver' });

      await r.restart();
      // The node holding bob re-reads its queue once its subscriber is back.
      expect(await b.next(isFor('during'), 15_000)).toMatchObject({ type: 'deliver' });
      send(a, 'after', 'bob', ['b1']);
      await b.next(isFor('after'), 10_000);
      expect(b.all('deliver').map((f) => f.message_id)).toEqual(['before', 'during', 'after']);
      expect(n1.child.exitCode).toBeNull();
      expect(n2.child.exitCode).toBeNull();
      await Promise.all([a, local, b].map((c) => c.close()));
    } finally {
      await Promise.all([n1.stop('SIGKILL'), n2.stop('SIGKILL')]);
      await r.stop();
      await db.drop();
    }
  }, 60_000);

  it('a device that connected while Redis was down hears the other nodes once it is back, in order', async () => {
    await Accounts.ready();
    const db = await createTestDatabase('postgres');
    const r = await startThrowawayRedis();
    const env = { ...db.env, JWT_SECRET: TEST_SECRET, REDIS_URL: r.url, REDIS_TIMEOUT_MS: '300' };
    const [n1, n2] = await Promise.all([startRelay({ ...env, DATA_DIR: tempDir('d1'), NODE_ID: 'd1' }), startRelay({ ...env, DATA_DIR: tempDir('d2'), NODE_ID: 'd2' })]);
    try {
      const accounts = new Accounts(n1.url);
      const a = await accounts.online('alice', 'a1', n1.url);
      const carl = await accounts.online('carl', 'c1', n2.url);
      await (await accounts.online('bob', 'b1', n2.url)).close();
      send(a, 'stored', 'bob', ['b1']);
      await a.next(isFor('stored'));

      // Bob's first device on node 2 comes while Redis is down: that node's subscription to him is asked for then.
      await r.kill();
      const b = await TestClient.connect(n2.url, 'bob', 'b1');
      // His backlog comes at once; live traffic (and queue_empty) waits for the bus.
      expect(await b.next(isFor('stored'), 10_000)).toMatchObject({ type: 'deliver' });
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(b.all('queue_empty')).toHaveLength(0);
      await r.restart();
      await b.next('queue_empty', 10_000);

      // From node 1 through the bus, then from node 2 directly: bob gets them as sent.
      send(a, 'remote', 'bob', ['b1']);
      await a.next(isFor('remote'));
      send(carl, 'local', 'bob', ['b1']);
      await carl.next(isFor('local'));
      // Out of order, the wait for `remote` would pass `local` by, and the wait for `local` fail.
      await b.next(isFor('remote'), 10_000);
      await b.next(isFor('local'), 3000);
      expect(b.all('deliver').map((f) => f.message_id)).toEqual(['stored', 'remote', 'local']);
      await Promise.all([a, carl, b].map((c) => c.close()));
    } finally {
      await Promise.all([n1.stop('SIGKILL'), n2.stop('SIGKILL')]);
      await r.stop();
      await db.drop();
    }
  }, 60_000);

  it('announces a device that connected while Redis stalled, once Redis answers again', async () => {
    await Accounts.ready();
    const db = await createTestDatabase('postgres');
    const r = await startThrowawayRedis();
    const env = { ...db.env, JWT_SECRET: TEST_SECRET, REDIS_URL: r.url, REDIS_TIMEOUT_MS: '300', PRESENCE_TTL_SECONDS: '3', PRESENCE_GRACE_SECONDS: '0', PRESENCE_REAP_MS: '200' };
    const n1 = await startRelay({ ...env, DATA_DIR: tempDir('s1'), NODE_ID: 's1' });
    try {
      const accounts = new Accounts(n1.url);
      const a = await accounts.online('alice', 'a1', n1.url);
      const b = await accounts.online('bob', 'b1', n1.url);
      a.send({ type: 'contact_add', payload: { user_id: 'bob' } });
      b.send({ type: 'contact_add', payload: { user_id: 'alice' } });
      await a.next((f) => f.type === 'presence' && JSON.stringify(f.payload).includes('bob'));
      await b.close();
      await a.next((f) => f.type === 'user_offline' && f.payload['user_id'] === 'bob');

      // Bob comes back while Redis is stalled: his presence write times out (300 ms) and is retried.
      r.pause();
      const again = await TestClient.connect(n1.url, 'bob', 'b1');
      await new Promise((resolve) => setTimeout(resolve, 800));
      r.resume();
      // Live (and queue_empty) waits for Redis to confirm the node's subscription to bob.
      await again.next('queue_empty', 8000);
      expect(await a.next((f) => f.type === 'user_online' && f.payload['user_id'] === 'bob', 8000)).toBeTruthy();
      expect(await again.next('presence', 8000)).toMatchObject({ payload: { contacts: [{ user_id: 'alice', online: true }] } });
      await Promise.all([a.close(), again.close()]);
    } finally {
      r.resume();
      await n1.stop('SIGKILL');
      await r.stop();
      await db.drop();
    }
  }, 60_000);
});
