import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { fetchVapidPublicKey, RelayClient, RelayError, type WebSocketConstructor } from '../../sdk/index.ts';
import { token } from '../helpers/tokens.ts';
import { postgresUrl } from '../helpers/databases.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { pushHealth } from '../helpers/push-health.ts';
import { until } from '../helpers/until.ts';
import { startWebhookEndpoint } from '../helpers/webhook-endpoint.ts';
import { b64, type TestClient, type Frame } from '../helpers/ws-client.ts';

/**
 * The webhook kind against a real HTTP server: signed requests, 410
 * unregistering, retries of 500s, and a hanging endpoint that must not
 * touch message delivery. Postgres when DATABASE_URL is set, else PGlite
 * (the check of the table after a revocation needs Postgres).
 */
const endpoint = await startWebhookEndpoint();
const SECRET = 'webhook-secret-of-at-least-32-characters';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('webhook wake-up', () => {
  const fx = useRelay(postgresUrl ? 'postgres' : 'pglite', {
    PUSH_WEBHOOK_URL: endpoint.url,
    PUSH_WEBHOOK_SECRET: SECRET,
    PUSH_COALESCE_SECONDS: '2',
    PUSH_DELAY_MS: '100',
    PUSH_ATTEMPTS: '3',
    PUSH_TIMEOUT_MS: '400',
    PUSH_CONCURRENCY: '2',
    RATE_MESSAGES_BURST: '100000',
    RATE_MESSAGES_PER_SECOND: '100000',
  });
  afterAll(() => endpoint.stop());
  let alice: string;
  let a: TestClient;
  beforeAll(async () => {
    alice = uid('alice');
    a = await fx.accounts.online(alice, 'a1');
  });

  /** Sends one message and resolves with the time its sent_ack took (ms). */
  const send = async (to: string, device: string, id: string, recipient?: TestClient): Promise<number> => {
    const t0 = performance.now();
    a.send({ type: 'send', id, payload: { to, messages: [{ device_id: device, ciphertext: b64(`secret ${id}`) }] } });
    if (recipient) {
      await recipient.next((f) => f.type === 'deliver' && f.message_id === id);
      recipient.send({ type: 'delivery_ack', payload: { message_ids: [id], sender_id: alice } });
    }
    await a.next((f: Frame) => f.type === 'sent_ack' && f.message_id === id);
    return performance.now() - t0;
  };

  const offlineWithToken = async (name: string, token: string): Promise<string> => {
    const user = uid(name);
    const c = await fx.accounts.online(user, 'phone');
    c.send({ type: 'push_register', payload: { kind: 'webhook', token } });
    await c.next('push_registered');
    await c.close();
    return user;
  };
  const requestsFor = (token: string) => endpoint.requests.filter((r) => r.body.includes(JSON.stringify(token)));
  const health = () => pushHealth(fx.relay.port);

  it('POSTs the token and a count, signed with HMAC-SHA256 over the timestamp and the body', async () => {
    endpoint.mode = 'ok';
    const bob = await offlineWithToken('bob', 'token-bob');
    await send(bob, 'phone', 'b1');
    await until(() => requestsFor('token-bob').length === 1, 5000, 'the webhook');
    const [req] = requestsFor('token-bob');
    expect(JSON.parse(req!.body)).toEqual({ token: 'token-bob', count: 1 });
    expect(req!.headers['content-type']).toBe('application/json');
    const ts = Number(req!.headers['x-relay-timestamp']);
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(10);
    const expected = `v1=${createHmac('sha256', SECRET).update(`${ts}.${req!.body}`).digest('hex')}`;
    expect(req!.headers['x-relay-signature']).toBe(expected);
    for (const leak of [alice, 'b1', 'secret']) expect(req!.body).not.toContain(leak);
  });

  it('retries a failing endpoint with growing waits, then gives up', async () => {
    endpoint.mode = 'fail';
    const carol = await offlineWithToken('carol', 'token-carol');
    const failedBefore = (await health()).failed;
    await send(carol, 'phone', 'c1');
    await until(async () => (await health()).failed === failedBefore + 1, 10_000, 'the last attempt');
    const tries = requestsFor('token-carol');
    expect(tries).toHaveLength(3);
    const gaps = [tries[1]!.at - tries[0]!.at, tries[2]!.at - tries[1]!.at];
    // One second, then two, less up to a quarter of jitter.
    expect(gaps[0]).toBeGreaterThanOrEqual(700);
    expect(gaps[1]).toBeGreaterThan(gaps[0]! * 1.2);
    endpoint.mode = 'ok';
  });

  it('unregisters a token the endpoint answers 410 for', async () => {
    endpoint.mode = 'gone';
    const dave = await offlineWithToken('dave', 'token-dave');
    await send(dave, 'phone', 'd1');
    await until(() => requestsFor('token-dave').length === 1, 5000, 'the webhook');
    endpoint.mode = 'ok';
    await new Promise((r) => setTimeout(r, 2300));
    await send(dave, 'phone', 'd2');
    await new Promise((r) => setTimeout(r, 800));
    expect(requestsFor('token-dave')).toHaveLength(1);
  });

  it('keeps delivery and sent_ack unaffected while the endpoint hangs, and opens its breaker', async () => {
    endpoint.mode = 'ok';
    const bob = uid('bob');
    const b = await fx.accounts.online(bob, 'phone');
    const sleepers = await Promise.all(Array.from({ length: 12 }, (_, i) => offlineWithToken(`sleeper${i}`, `token-sleeper-${i}`)));
    const phase = async (tag: string): Promise<{ online: number; offline: number }> => {
      const online: number[] = [];
      const offline: number[] = [];
      for (let i = 0; i < 40; i++) {
        online.push(await send(bob, 'phone', `${tag}-on-${i}`, b));
        offline.push(await send(sleepers[i % sleepers.length]!, 'phone', `${tag}-off-${i}`));
      }
      return { online: median(online), offline: median(offline) };
    };
    const healthy = await phase('h');
    endpoint.mode = 'hang';
    await new Promise((r) => setTimeout(r, 2100));
    const hanging = await phase('x');
    // The wakes of the hanging phase time out one after another (400 ms each, two at a time): the breaker opens
    // after five failures in a row, and holds the rest back. On a loaded machine that can outlast the phase.
    await until(
      async () => {
        const h = await health();
        return h.open_breakers === 1 && h.heldByBreaker > 0;
      },
      15_000,
      'the breaker to open',
    );
    const p = await health();
    console.log(
      `sent_ack median, healthy endpoint: ${healthy.online.toFixed(1)} ms online, ${healthy.offline.toFixed(1)} ms offline; hanging: ${hanging.online.toFixed(1)} ms, ${hanging.offline.toFixed(1)} ms`,
    );
    // Every message went through while the pushes timed out and the breaker opened.
    expect(b.all('deliver').filter((f) => String(f.message_id).startsWith('x-on-'))).toHaveLength(40);
    expect(p.retried).toBeGreaterThan(0);
    expect(p.open_breakers).toBe(1);
    expect(p.heldByBreaker).toBeGreaterThan(0);
    endpoint.mode = 'ok';
  });

  it('registers through the SDK, which reports a refused endpoint as a RelayError', async () => {
    const frank = uid('frank');
    await (await fx.accounts.online(frank, 'phone')).close();
    const client = new RelayClient({ url: fx.relay.url, token: () => token(frank, 'phone'), WebSocket: WebSocket as unknown as WebSocketConstructor, requestTimeoutMs: 10_000 });
    client.connect();
    try {
      expect((await client.registerPush({ kind: 'webhook', token: 'token-frank' })).payload).toEqual({ kind: 'webhook' });
      // Web Push is on with a development key pair here, and only at the browsers' push services.
      expect(await fetchVapidPublicKey(fx.relay.url)).toMatch(/^[A-Za-z0-9_-]{87}$/);
      const refused = await client
        .registerPush({ kind: 'webpush', subscription: { endpoint: 'https://push.example/x', keys: { p256dh: `B${'A'.repeat(86)}`, auth: 'A'.repeat(22) } } })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RelayError);
      expect((refused as RelayError).code).toBe('push_endpoint_refused');
      await client.unregisterPush();
    } finally {
      client.close();
    }
  });

  it.skipIf(!postgresUrl)('removes the token of a revoked device', async () => {
    const erin = uid('erin');
    const primary = await fx.accounts.online(erin, 'phone');
    const tablet = await fx.accounts.online(erin, 'tablet');
    tablet.send({ type: 'push_register', payload: { kind: 'webhook', token: 'token-erin-tablet' } });
    await tablet.next('push_registered');
    const rows = () => fx.db.query<{ n: number }>('select count(*)::int as n from push_targets where user_id = $1', [erin]);
    expect((await rows())[0]!.n).toBe(1);
    primary.send({ type: 'device_revoke', payload: { device_id: 'tablet' } });
    await tablet.closed;
    expect((await rows())[0]!.n).toBe(0);
  });
});
