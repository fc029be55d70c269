import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { decodeBusBatch } from '../../src/bus/bus-codec.ts';
import { uid } from '../helpers/relay-fixture.ts';
import { postgresUrl } from '../helpers/databases.ts';
import { redisSkipReason, testRedis } from '../helpers/redis.ts';
import type { RelayProcess } from '../../tools/relay-process.ts';
import { useCluster } from '../helpers/cluster.ts';
import { until } from '../helpers/until.ts';
import { b64, type Frame, type TestClient } from '../helpers/ws-client.ts';

/**
 * A stored message between devices on two nodes is acked back to the node
 * that holds it in its write queue: an ack before the commit cancels the
 * write there, an ack after it deletes the row. The write delay is a full
 * second here, so "before the commit" does not depend on the machine's
 * speed. Needs a shared Postgres and a Redis, like the cluster tests.
 */
const redis = await testRedis();
const skip = !postgresUrl || !redis;
if (skip) console.warn(`cross-node ack tests skipped: ${!postgresUrl ? 'DATABASE_URL is not set (several nodes need one shared Postgres)' : redisSkipReason}`);

const WRITE_DELAY_MS = 1000;
const isFor = (id: string) => (f: Frame) => f.message_id === id;
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
/** Sends each id to the user's devices (one ciphertext per device). */
const sendAll = (c: TestClient, to: string, devices: string | string[], list: string[]) => {
  for (const id of list) c.send({ type: 'send', id, payload: { to, messages: [devices].flat().map((device_id) => ({ device_id, ciphertext: b64(id) })) } });
};
/** Waits for the sent_ack of each id, in order. */
const sentAcks = async (c: TestClient, list: string[], timeoutMs: number) => {
  for (const id of list) await c.next((f) => f.type === 'sent_ack' && f.message_id === id, timeoutMs);
};
/** Acks every stored frame (deliver, status_update) the moment it arrives, as a client does. */
const ackOnArrival = (c: TestClient) =>
  c.ws.on('message', (data) => {
    const f = JSON.parse(String(data)) as Frame;
    if ((f.type === 'deliver' || f.type === 'status_update') && f.message_id) c.send({ type: 'delivery_ack', payload: { message_ids: [f.message_id] } });
  });

describe.skipIf(skip)('acks across nodes', () => {
  const env = { WRITE_DELAY_MS: String(WRITE_DELAY_MS) };
  /** The sender's node, a recipient node, and a recipient node with the smallest in-flight window. */
  const cluster = useCluster(redis!, { x1: env, x2: env, x3: { ...env, INFLIGHT_MAX: '10' } });

  const health = async (n: RelayProcess) => (await (await fetch(`http://127.0.0.1:${n.port}/healthz`)).json()) as { written_ops: number; connections: number };
  const writtenOps = async (n: RelayProcess): Promise<number> => (await health(n)).written_ops;
  /** Queue rows for the user, or for one device of the user. */
  const rowsFor = async (user: string, device?: string): Promise<number> =>
    (await cluster.db.query<{ n: number }>('select count(*)::int as n from queue where recipient_user = $1 and ($2::text is null or recipient_device = $2)', [user, device ?? null]))[0]!.n;

  it('writes nothing when the recipient on another node acks before the commit, and answers the sender from that ack', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await cluster.accounts.online(alice, 'a1', cluster.nodes[0]!.url);
    const b = await cluster.accounts.online(bob, 'b1', cluster.nodes[1]!.url);
    ackOnArrival(a);
    ackOnArrival(b);
    const before = await Promise.all(cluster.nodes.slice(0, 2).map(writtenOps));
    const list = ids('fast', 20);
    sendAll(a, bob, 'b1', list);
    for (const id of list) expect(await a.next((f) => f.type === 'sent_ack' && f.message_id === id)).toBeTruthy();
    // The receipts travel back across too, and alice's acks cancel their writes on bob's node.
    for (const id of list) await a.seen((f) => f.type === 'status_update' && f.message_id === id);
    // Past the write delay, any write that was going to happen has happened.
    await new Promise((r) => setTimeout(r, WRITE_DELAY_MS * 2));
    expect(await Promise.all(cluster.nodes.slice(0, 2).map(writtenOps))).toEqual(before);
    expect(b.all('deliver').map((f) => f.message_id)).toEqual(list);
    expect(await rowsFor(bob)).toBe(0);
    expect(await rowsFor(alice)).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });

  it("stores the sender's receipt on the sender's node: it reaches the sender without crossing the bus, and the sender's device on the recipient's node gets it too", async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    // Everything published to alice's topic, as another node would receive it.
    const watcher = new Redis(redis!.url);
    const onAliceTopic: string[] = [];
    watcher.on('message', (_channel: string, payload: string) => onAliceTopic.push(payload));
    await watcher.subscribe(`${redis!.prefix}:bus:${alice}`);
    const a1 = await cluster.accounts.online(alice, 'a1', cluster.nodes[0]!.url);
    const a2 = await cluster.accounts.online(alice, 'a2', cluster.nodes[1]!.url);
    const b = await cluster.accounts.online(bob, 'b1', cluster.nodes[1]!.url);
    for (const c of [a1, a2, b]) ackOnArrival(c);
    const before = await Promise.all(cluster.nodes.slice(0, 2).map(writtenOps));
    onAliceTopic.length = 0;
    const list = ids('receipt', 5);
    sendAll(a1, bob, 'b1', list);
    await sentAcks(a1, list, 5000);
    for (const id of list) {
      const [toSender, toOtherDevice] = await Promise.all([a1, a2].map((c) => c.seen((f) => f.type === 'status_update' && f.message_id === id)));
      expect(toSender!.payload).toMatchObject({ status: 'delivered', recipient_id: bob, recipient_device: 'b1' });
      expect(toOtherDevice!.payload).toMatchObject({ status: 'delivered', recipient_id: bob, recipient_device: 'b1' });
    }
    // On alice's topic, only the copies for a2, which is on the other node: the receipts were stored on a1's.
    await new Promise((r) => setTimeout(r, WRITE_DELAY_MS * 2));
    const receipts = onAliceTopic
      .flatMap((p) => decodeBusBatch(p).m)
      .flatMap((m) => (m.k === 'entries' ? m.entries : []))
      .filter((e) => e.kind === 'status_update');
    expect(receipts.map((e) => `${e.recipientDevice} ${e.messageId}`).sort()).toEqual(list.map((id) => `a2 ${id}`));
    // Both devices acked in time: nothing was written on either node.
    expect(await Promise.all(cluster.nodes.slice(0, 2).map(writtenOps))).toEqual(before);
    expect(await rowsFor(alice)).toBe(0);
    watcher.disconnect();
    await Promise.all([a1.close(), a2.close(), b.close()]);
  });

  it('deletes the row on the writing node when the ack comes after the commit, and delivers each message once', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await cluster.accounts.online(alice, 'a1', cluster.nodes[0]!.url);
    const b = await cluster.accounts.online(bob, 'b1', cluster.nodes[1]!.url);
    const list = ids('slow', 10);
    sendAll(a, bob, 'b1', list);
    await b.next(isFor(list.at(-1)!));
    // Unacked, the entries are committed after the delay, and published once more then.
    await until(async () => (await rowsFor(bob)) === list.length, 10_000, 'the rows to be committed', 50);
    for (const id of list) await a.seen((f) => f.type === 'sent_ack' && f.message_id === id);
    await new Promise((r) => setTimeout(r, 300));
    b.send({ type: 'delivery_ack', payload: { message_ids: list } });
    await until(async () => (await rowsFor(bob)) === 0, 10_000, 'the rows to be deleted', 50);
    expect(b.all('deliver').map((f) => f.message_id)).toEqual(list);
    await Promise.all([a.close(), b.close()]);
  });

  it('answers a send to a user connected on no node from its commit, without waiting out the delay', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    (await cluster.accounts.online(bob, 'b1', cluster.nodes[1]!.url)).ws.terminate();
    const a = await cluster.accounts.online(alice, 'a1', cluster.nodes[0]!.url);
    // Bob's node has let go of his topic once it no longer counts his connection.
    await until(async () => (await health(cluster.nodes[1]!)).connections === 0, 5000, 'bob to be gone', 50);
    const list = ids('away', 5);
    const t0 = Date.now();
    sendAll(a, bob, 'b1', list);
    await sentAcks(a, list, 3 * WRITE_DELAY_MS);
    expect(Date.now() - t0).toBeLessThan(WRITE_DELAY_MS / 2);
    expect(await rowsFor(bob)).toBe(list.length);
    // Stored in order: bob gets them all when he connects, on either node.
    const b = await cluster.accounts.online(bob, 'b1', cluster.nodes[2]!.url);
    await until(() => b.all('deliver').length >= list.length, 10_000, 'the backlog at bob', 50);
    expect(b.all('deliver').map((f) => f.message_id)).toEqual(list);
    await Promise.all([a.close(), b.close()]);
  });

  it('answers a send from its commit for a device connected nowhere, while the other device of the user is online on another node', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    // b2 is approved by b1, then goes away; b1 stays on the second node and acks what it gets.
    const b1 = await cluster.accounts.online(bob, 'b1', cluster.nodes[1]!.url);
    await (await cluster.accounts.online(bob, 'b2', cluster.nodes[1]!.url)).close();
    ackOnArrival(b1);
    const a = await cluster.accounts.online(alice, 'a1', cluster.nodes[0]!.url);
    const list = ids('half', 5);
    const t0 = Date.now();
    sendAll(a, bob, ['b1', 'b2'], list);
    await sentAcks(a, list, 3 * WRITE_DELAY_MS);
    // Without the second node's "absent" answer, b2's entries would wait out the delay.
    expect(Date.now() - t0).toBeLessThan(WRITE_DELAY_MS / 2);
    expect(await rowsFor(bob, 'b2')).toBe(list.length);
    await new Promise((r) => setTimeout(r, WRITE_DELAY_MS * 1.5));
    expect(await rowsFor(bob, 'b1')).toBe(0);
    // b2 gets them from its backlog, in order, on any node.
    const b2 = await cluster.accounts.online(bob, 'b2', cluster.nodes[2]!.url);
    await until(() => b2.all('deliver').length >= list.length, 10_000, 'the backlog at b2', 50);
    expect(b2.all('deliver').map((f) => f.message_id)).toEqual(list);
    await Promise.all([a.close(), b1.close(), b2.close()]);
  });

  it('writes nothing when the two devices of a user are on two other nodes and both ack: each node says only the other device is absent', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const b1 = await cluster.accounts.online(bob, 'b1', cluster.nodes[1]!.url);
    const b2 = await cluster.accounts.online(bob, 'b2', cluster.nodes[2]!.url);
    ackOnArrival(b1);
    ackOnArrival(b2);
    const a = await cluster.accounts.online(alice, 'a1', cluster.nodes[0]!.url);
    ackOnArrival(a);
    const before = await writtenOps(cluster.nodes[0]!);
    const list = ids('both', 10);
    sendAll(a, bob, ['b1', 'b2'], list);
    await sentAcks(a, list, 3 * WRITE_DELAY_MS);
    await new Promise((r) => setTimeout(r, WRITE_DELAY_MS * 2));
    expect(await writtenOps(cluster.nodes[0]!)).toBe(before);
    expect(await rowsFor(bob)).toBe(0);
    expect(b1.all('deliver').map((f) => f.message_id)).toEqual(list);
    expect(b2.all('deliver').map((f) => f.message_id)).toEqual(list);
    await Promise.all([a.close(), b1.close(), b2.close()]);
  });

  it('gets everything, in order and once, to a recipient on another node whose window keeps filling', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await cluster.accounts.online(alice, 'a1', cluster.nodes[0]!.url);
    const b = await cluster.accounts.online(bob, 'b1', cluster.nodes[2]!.url);
    ackOnArrival(b);
    // Within the sender's frame budget (a burst of 60), five times the window.
    const list = ids('burst', 50);
    sendAll(a, bob, 'b1', list);
    await until(() => b.all('deliver').length >= list.length, 15_000, 'every message at bob', 50);
    await new Promise((r) => setTimeout(r, WRITE_DELAY_MS + 500));
    expect(b.all('deliver').map((f) => f.message_id)).toEqual(list);
    await until(async () => (await rowsFor(bob)) === 0, 10_000, 'the rows to be deleted', 50);
    await Promise.all([a.close(), b.close()]);
  });
});
