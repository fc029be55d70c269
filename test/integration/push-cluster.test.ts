import { afterAll, describe, expect, it } from 'vitest';
import { useCluster } from '../helpers/cluster.ts';
import { postgresUrl } from '../helpers/databases.ts';
import { redisSkipReason, testRedis } from '../helpers/redis.ts';
import { uid } from '../helpers/relay-fixture.ts';
import { pushHealth } from '../helpers/push-health.ts';
import { until } from '../helpers/until.ts';
import { startWebhookEndpoint } from '../helpers/webhook-endpoint.ts';
import { b64, type TestClient, type Frame } from '../helpers/ws-client.ts';

/**
 * Push across two nodes: a device connected on the other node is never
 * woken, and an offline device that both nodes have messages for is woken
 * once per window. Needs DATABASE_URL and a Redis.
 */
const redis = await testRedis();
const skip = !postgresUrl || !redis;
if (skip) console.warn(`push cluster tests skipped: ${!postgresUrl ? 'DATABASE_URL is not set (two nodes need one shared Postgres)' : redisSkipReason}`);
const endpoint = await startWebhookEndpoint();

describe.skipIf(skip)('push wake-up on two nodes', () => {
  const env = { PUSH_WEBHOOK_URL: endpoint.url, PUSH_WEBHOOK_SECRET: 'webhook-secret-of-at-least-32-characters', PUSH_COALESCE_SECONDS: '5', PUSH_DELAY_MS: '100' };
  const cluster = useCluster(redis!, { pushA: env, pushB: env });
  afterAll(() => endpoint.stop());
  const url = (i: number) => cluster.nodes[i]!.url;
  const health = (i: number) => pushHealth(cluster.nodes[i]!.port);
  const send = async (c: TestClient, id: string, to: string) => {
    c.send({ type: 'send', id, payload: { to, messages: [{ device_id: 'phone', ciphertext: b64(id) }] } });
    await c.next((f: Frame) => f.type === 'sent_ack' && f.message_id === id);
  };

  it('never wakes a device connected on the other node, even with its messages written and unacked', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const b = await cluster.accounts.online(bob, 'phone', url(1));
    b.send({ type: 'push_register', payload: { kind: 'webhook', token: `token-${bob}` } });
    await b.next('push_registered');
    const skippedBefore = (await health(0)).skippedOnline;
    // Bob never acks: every entry is written on node A, whose dispatcher must find him on node B.
    for (const id of ['o1', 'o2', 'o3']) await send(a, id, bob);
    await b.next((f) => f.type === 'deliver' && f.message_id === 'o3');
    await until(async () => (await health(0)).skippedOnline > skippedBefore, 5000, 'node A to look at bob');
    await new Promise((r) => setTimeout(r, 500));
    expect(endpoint.requests.filter((r) => r.body.includes(`token-${bob}`))).toHaveLength(0);
  });

  it('wakes a device that both nodes have messages for once per window', async () => {
    const [alice, carol, dave] = [uid('alice'), uid('carol'), uid('dave')];
    const a = await cluster.accounts.online(alice, 'a1', url(0));
    const c = await cluster.accounts.online(carol, 'c1', url(1));
    const d = await cluster.accounts.online(dave, 'phone', url(1));
    d.send({ type: 'push_register', payload: { kind: 'webhook', token: `token-${dave}` } });
    await d.next('push_registered');
    await d.close();
    const claimed = async () => (await health(0)).claimed + (await health(1)).claimed;
    const before = await claimed();
    for (let i = 0; i < 5; i++) {
      await send(a, `a${i}`, dave);
      await send(c, `c${i}`, dave);
    }
    await until(() => endpoint.requests.some((r) => r.body.includes(`token-${dave}`)), 5000, 'the wake');
    await new Promise((r) => setTimeout(r, 1500));
    expect(endpoint.requests.filter((r) => r.body.includes(`token-${dave}`))).toHaveLength(1);
    expect(await claimed()).toBe(before + 1);
  });
});
