import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl } from '../helpers/databases.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { pushHealth } from '../helpers/push-health.ts';
import { until } from '../helpers/until.ts';
import { startWebPushService, type WebPushService } from '../helpers/web-push-service.ts';
import { b64, TestClient, type Frame } from '../helpers/ws-client.ts';

/**
 * Web Push end to end: a real push service on loopback (web-push-testing)
 * checks the relay's VAPID signature and decrypts what it sends, the way a
 * browser's push service and the browser would. Runs on Postgres when
 * DATABASE_URL is set, PGlite otherwise.
 */
const service: WebPushService = await startWebPushService();
const vapid = webpush.generateVAPIDKeys();
const COALESCE_S = 3;

describe('Web Push wake-up', () => {
  const fx = useRelay(postgresUrl ? 'postgres' : 'pglite', {
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: 'mailto:ops@relay.test',
    PUSH_WEBPUSH_ORIGINS: service.origin,
    PUSH_COALESCE_SECONDS: String(COALESCE_S),
    PUSH_DELAY_MS: '100',
  });
  afterAll(() => service.stop());
  let alice: string;
  let a: TestClient;
  beforeAll(async () => {
    alice = uid('alice');
    a = await fx.accounts.online(alice, 'a1');
  });

  const send = async (to: string, device: string, id: string): Promise<void> => {
    a.send({ type: 'send', id, payload: { to, messages: [{ device_id: device, ciphertext: b64(`secret ${id}`) }] } });
    await a.next((f: Frame) => f.type === 'sent_ack' && f.message_id === id);
  };

  /** A user whose one device subscribed and went offline; returns the subscription's hash. */
  const offlineSubscriber = async (name: string): Promise<{ user: string; hash: string }> => {
    const user = uid(name);
    const c = await fx.accounts.online(user, 'phone');
    const sub = await service.subscribe(vapid.publicKey);
    c.send({ type: 'push_register', payload: { kind: 'webpush', subscription: { endpoint: sub.endpoint, expirationTime: null, keys: sub.keys } } });
    expect((await c.next('push_registered')).payload).toEqual({ kind: 'webpush' });
    await c.close();
    return { user, hash: sub.clientHash };
  };

  const pushesTo = (hash: string) => service.received(hash);
  const health = () => pushHealth(fx.relay.port);

  it('serves the VAPID public key browsers subscribe with', async () => {
    const res = await fetch(`http://127.0.0.1:${fx.relay.port}/push/vapid-public-key`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(vapid.publicKey);
  });

  it('wakes an offline device once per window with a count and nothing else, and again after the window', async () => {
    const bob = await offlineSubscriber('bob');
    const ids = ['w1', 'w2', 'w3'];
    for (const id of ids) await send(bob.user, 'phone', id);
    await until(async () => (await pushesTo(bob.hash)).length >= 1, 5000, 'the first push');
    // Well inside the window, more messages: no second push.
    await send(bob.user, 'phone', 'w4');
    await new Promise((r) => setTimeout(r, 1000));
    const first = await pushesTo(bob.hash);
    expect(first).toHaveLength(1);
    const payload = JSON.parse(first[0]!) as Record<string, unknown>;
    expect(Object.keys(payload).sort()).toEqual(['count', 'type']);
    expect(payload['type']).toBe('wake');
    expect(payload['count']).toBeGreaterThanOrEqual(1);
    expect(payload['count']).toBeLessThanOrEqual(4);
    for (const leak of [alice, 'a1', 'w1', 'secret', b64('secret w1')]) expect(first[0]).not.toContain(leak);
    // Past the window, still offline: the next message wakes it again, counting everything waiting.
    await new Promise((r) => setTimeout(r, COALESCE_S * 1000));
    await send(bob.user, 'phone', 'w5');
    await until(async () => (await pushesTo(bob.hash)).length === 2, 5000, 'the second push');
    expect(JSON.parse((await pushesTo(bob.hash))[1]!)).toEqual({ type: 'wake', count: 5 });
  });

  it('does not push a device that is online, and a connect starts a new window', async () => {
    const carol = await offlineSubscriber('carol');
    await send(carol.user, 'phone', 'c1');
    await until(async () => (await pushesTo(carol.hash)).length === 1, 5000, 'the push');
    // The device wakes and connects: it drains and acks its backlog.
    const phone = await TestClient.connect(fx.relay.url, carol.user, 'phone');
    await phone.next((f) => f.type === 'deliver' && f.message_id === 'c1');
    phone.send({ type: 'delivery_ack', payload: { message_ids: ['c1'], sender_id: alice } });
    await phone.next('queue_empty');
    // While it is connected, messages reach it and no push goes out.
    await send(carol.user, 'phone', 'c2');
    await phone.next((f) => f.type === 'deliver' && f.message_id === 'c2');
    phone.send({ type: 'delivery_ack', payload: { message_ids: ['c2'], sender_id: alice } });
    await new Promise((r) => setTimeout(r, 800));
    expect(await pushesTo(carol.hash)).toHaveLength(1);
    // Back in the background, inside the first push's window: it was connected since, so it is woken.
    await phone.close();
    await send(carol.user, 'phone', 'c3');
    await until(async () => (await pushesTo(carol.hash)).length === 2, 5000, 'the push after a connect');
    expect(JSON.parse((await pushesTo(carol.hash))[1]!)).toEqual({ type: 'wake', count: 1 });
  });

  it('removes a subscription the push service calls gone, and sends it nothing more', async () => {
    const dave = await offlineSubscriber('dave');
    await service.expire(dave.hash);
    const before = (await health()).gone;
    await send(dave.user, 'phone', 'd1');
    await until(async () => (await health()).gone === before + 1, 5000, 'the 410');
    await new Promise((r) => setTimeout(r, COALESCE_S * 1000 + 200));
    const { sent, claimed } = await health();
    await send(dave.user, 'phone', 'd2');
    await new Promise((r) => setTimeout(r, 800));
    const after = await health();
    expect(after.gone).toBe(before + 1);
    // With its target gone, the device is never claimed again, so nothing is sent.
    expect(after.claimed).toBe(claimed);
    expect(after.sent).toBe(sent);
  });

  it('refuses an endpoint outside the configured push services, and a kind this relay does not send', async () => {
    const erin = await fx.accounts.online(uid('erin'), 'phone');
    const sub = await service.subscribe(vapid.publicKey);
    for (const endpoint of ['http://127.0.0.1:9/notify/x', 'https://evil.example/notify', `${service.origin}@evil.example/x`]) {
      erin.send({ type: 'push_register', id: 'r1', payload: { kind: 'webpush', subscription: { endpoint, keys: sub.keys } } });
      expect((await erin.next('error')).payload['error_code']).toBe('push_endpoint_refused');
    }
    erin.send({ type: 'push_register', id: 'r2', payload: { kind: 'webhook', token: 'apns-token' } });
    const err = await erin.next('error');
    expect(err.payload['error_code']).toBe('push_unavailable');
    expect(err.payload['kinds']).toEqual(['webpush']);
    erin.send({ type: 'push_register', id: 'r3', payload: { kind: 'webpush', subscription: { endpoint: sub.endpoint, keys: { p256dh: 'short', auth: sub.keys.auth } } } });
    expect((await erin.next('error')).payload['error_code']).toBe('invalid_message');
    erin.send({ type: 'push_unregister', payload: {} });
    await erin.next('push_unregistered');
  });
});
