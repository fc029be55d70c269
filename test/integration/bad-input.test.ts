import net from 'node:net';
import { exportPKCS8, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { startRelay, tempDir, type RelayProcess } from '../../tools/relay-process.ts';
import { TEST_SECRET, token } from '../helpers/tokens.ts';
import { b64, TestClient, upgradeStatus, type Frame } from '../helpers/ws-client.ts';

/**
 * Hostile input against a real relay with small limits. For every case: the
 * exact error or close code, and afterwards the process is up, a witness
 * pair of clients still works, and messages acked before the barrage are
 * all delivered.
 */
const claims = { iss: 'https://auth.test', aud: 'relay' };
const tight = {
  JWT_ISSUER: claims.iss,
  JWT_AUDIENCE: claims.aud,
  ALLOWED_ORIGINS: 'https://app.test',
  RATE_MESSAGES_BURST: '5',
  RATE_MESSAGES_PER_SECOND: '1',
  RATE_LIMIT_STRIKES: '5',
  MAX_CONNECTIONS_PER_USER: '3',
};

describe('bad input', () => {
  const fx = useRelay('pglite', tight);
  const jwt = (user: string, device: string, extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}) => token(user, device, { claims: { ...claims, ...extra }, header });
  const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });
  const connect = async (user: string, device: string) => TestClient.connect(fx.relay.url, user, device, { token: await jwt(user, device) });
  const online = async (user: string, device: string) => {
    const c = await connect(user, device);
    const pending = await fx.accounts.register(c, user, device);
    if (pending) throw new Error('expected a first device');
    await c.next('queue_empty');
    return c;
  };
  const errorOf = async (c: TestClient, frame: string | Record<string, unknown>) => {
    if (typeof frame === 'string') c.sendRaw(frame);
    else c.send(frame);
    return (await c.next('error')).payload.error_code;
  };

  // The witness: three messages acked by the relay for an offline device before anything hostile happens.
  const witness = { alice: uid('alice'), bob: uid('bob') };
  let alice: TestClient;
  beforeAll(async () => {
    (await online(witness.bob, 'b1')).ws.terminate();
    alice = await online(witness.alice, 'a1');
    for (const id of ['w1', 'w2', 'w3']) {
      alice.send({ type: 'send', id, payload: { to: witness.bob, messages: [{ device_id: 'b1', ciphertext: b64(id) }] } });
      await alice.next((f) => f.type === 'sent_ack' && f.message_id === id);
    }
  });
  afterAll(async () => {
    // Still up, still serving, nothing acked lost.
    expect(fx.relay.child.exitCode).toBeNull();
    alice.send({ type: 'heartbeat' });
    await alice.next('heartbeat_ack');
    const bob = await TestClient.connect(fx.relay.url, witness.bob, 'b1', { token: await jwt(witness.bob, 'b1') });
    await bob.next('queue_empty');
    expect(bob.all('deliver').map((f) => f.message_id)).toEqual(['w1', 'w2', 'w3']);
    await Promise.all([alice.close(), bob.close()]);
  });

  describe('at the upgrade', () => {
    it('401: no token', async () => expect(await upgradeStatus(fx.relay.url)).toBe(401));

    it('401: alg none', async () => {
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      expect(await upgradeStatus(fx.relay.url, bearer(`${enc({ alg: 'none' })}.${enc({ sub: 'e', did: 'd', iat: now, exp: now + 60, ...claims })}.`))).toBe(401);
    });

    it('401: a token signed with an asymmetric key the relay does not use (HS/RS key confusion)', async () => {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const now = Math.floor(Date.now() / 1000);
      const rs = await new SignJWT({ sub: 'e', did: 'd', iat: now, exp: now + 60, ...claims }).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
      expect(await upgradeStatus(fx.relay.url, bearer(rs))).toBe(401);
      // And a token whose HMAC key is the PEM of a key: still HS256 with the wrong secret.
      const pem = await exportPKCS8(privateKey);
      const confused = await new SignJWT({ sub: 'e', did: 'd', iat: now, exp: now + 60, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(pem));
      expect(await upgradeStatus(fx.relay.url, bearer(confused))).toBe(401);
    });

    it.each([
      ['wrong iss', { iss: 'https://evil.test' }, {}],
      ['wrong aud', { aud: 'someone-else' }, {}],
      ['wrong typ', {}, { typ: 'dpop+jwt' }],
      ['nbf in the future', { nbf: Math.floor(Date.now() / 1000) + 3600 }, {}],
      ['no exp', { exp: undefined }, {}],
      ['expired', { exp: Math.floor(Date.now() / 1000) - 60 }, {}],
    ])('401: %s', async (_n, extra, header) => {
      expect(await upgradeStatus(fx.relay.url, bearer(await jwt('eve', 'd1', extra, header)))).toBe(401);
    });

    it('no 101 for a 1 MB token', async () => {
      const huge = await jwt('eve', 'd1', { pad: 'x'.repeat(1024 * 1024) });
      const status = await upgradeStatus(fx.relay.url, bearer(huge)).catch(() => 'connection dropped');
      expect(status).not.toBe(101);
    });

    it('403: a browser page from a foreign origin; the allowed origin and native clients pass', async () => {
      const t = await jwt(uid('o'), 'd1');
      expect(await upgradeStatus(fx.relay.url, { headers: { authorization: `Bearer ${t}`, origin: 'https://evil.test' } })).toBe(403);
      expect(await upgradeStatus(fx.relay.url, { headers: { authorization: `Bearer ${t}`, origin: 'https://app.test' } })).toBe(101);
      expect(await upgradeStatus(fx.relay.url, { headers: { authorization: `Bearer ${t}` } })).toBe(101);
    });

    it('429: more sockets for one user than the per-user cap', async () => {
      const user = uid('many');
      const open = [await connect(user, 'd1'), await connect(user, 'd2'), await connect(user, 'd3')];
      expect(await upgradeStatus(fx.relay.url, bearer(await jwt(user, 'd4')))).toBe(429);
      // Reconnecting an existing device is not a new connection.
      expect(await upgradeStatus(fx.relay.url, bearer(await jwt(user, 'd1')))).toBe(101);
      await Promise.all(open.map((c) => c.close()));
    });

    it('a slowloris upgrade is dropped while other clients keep working', async () => {
      const s = net.connect(fx.relay.port, '127.0.0.1');
      const closed = new Promise<number>((resolve) => s.on('close', () => resolve(Date.now())));
      s.on('error', () => {});
      const started = Date.now();
      s.write('GET /ws HTTP/1.1\r\nHost: x\r\n');
      const drip = setInterval(() => s.writable && s.write('X-Slow: 1\r\n'), 2000);
      alice.send({ type: 'heartbeat' });
      await alice.next('heartbeat_ack');
      const at = await closed;
      clearInterval(drip);
      expect(at - started).toBeLessThan(25_000);
    }, 30_000);
  });

  describe('frames', () => {
    // Each case on its own socket: ten garbage frames a minute close a socket (tested below).

    it.each([
      ['non-JSON', 'hello', 'invalid_frame'],
      ['a JSON array', '[1,2,3]', 'invalid_frame'],
      ['a JSON string', '"send"', 'invalid_frame'],
      ['a JSON number', '42', 'invalid_frame'],
      ['deeply nested JSON', `{"type":"heartbeat","payload":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`, 'invalid_frame'],
      ['an unknown type', '{"type":"rm -rf","payload":{}}', 'unknown_type'],
      ['a __proto__ key', '{"type":"heartbeat","payload":{},"__proto__":{"admin":true}}', 'invalid_message'],
      ['a constructor key', '{"type":"heartbeat","payload":{"constructor":{"prototype":{}}}}', 'invalid_message'],
      ['a wrong field type', JSON.stringify({ type: 'typing', payload: { to: 'x', conversation_id: 'c', is_typing: 'yes' } }), 'invalid_message'],
      ['a huge number', '{"type":"typing","payload":{"to":"x","conversation_id":"c","is_typing":1e999}}', 'invalid_message'],
      ['a huge integer id', '{"type":"send","id":123456789012345678901234567890,"payload":{}}', 'invalid_message'],
      [
        'a sender field claiming another user',
        JSON.stringify({ type: 'send', id: 's1', sender_id: 'victim', payload: { to: 'x', messages: [{ device_id: 'd', ciphertext: 'aGk=' }] } }),
        'invalid_message',
      ],
      ['a sender inside the payload', JSON.stringify({ type: 'send', id: 's2', payload: { to: 'x', sender_id: 'victim', messages: [{ device_id: 'd', ciphertext: 'aGk=' }] } }), 'invalid_message'],
      ['a non-base64 ciphertext', JSON.stringify({ type: 'send', id: 's3', payload: { to: 'x', messages: [{ device_id: 'd', ciphertext: '<script>' }] } }), 'invalid_message'],
    ])('%s -> %s', async (_n, frame, code) => {
      const m = await online(uid('mallory'), 'm1');
      expect(await errorOf(m, frame)).toBe(code);
      await m.close();
    });

    it('binary frames -> invalid_frame', async () => {
      const m = await online(uid('mallory'), 'm1');
      m.sendRaw(Buffer.from([1, 2, 3]));
      expect((await m.next('error')).payload.error_code).toBe('invalid_frame');
    });

    it('closes after repeated garbage (1008)', async () => {
      const g = await online(uid('garbage'), 'g1');
      for (let i = 0; i < 12; i++) g.sendRaw('nope');
      expect(await g.closed).toBe(1008);
    });

    it('a frame over the application limit closes with 1009', async () => {
      const big = await online(uid('big'), 'b1');
      big.sendRaw(JSON.stringify({ type: 'heartbeat', payload: {}, pad: 'x'.repeat(70 * 1024) }));
      expect(await big.closed).toBe(1009);
    });

    it('a frame over the hard cap is dropped by uWebSockets.js without reading it', async () => {
      const huge = await online(uid('huge'), 'h1');
      huge.sendRaw('x'.repeat(300 * 1024));
      expect(await huge.closed).toBe(1006);
    });

    it('invalid UTF-8 in a text frame closes the socket', async () => {
      const u = await online(uid('utf'), 'u1');
      const socket = (u.ws as unknown as { _socket: net.Socket })._socket;
      // A masked text frame whose payload (C3 28) is not UTF-8.
      socket.write(Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0xc3 ^ 1, 0x28 ^ 2]));
      expect(await u.closed).toBe(1006);
    });

    it("an ack for another device's message removes nothing", async () => {
      const [sender, target, thief] = [uid('s'), uid('t'), uid('x')];
      const t = await online(target, 't1');
      t.ws.terminate();
      const s = await online(sender, 's1');
      s.send({ type: 'send', id: 'mine', payload: { to: target, messages: [{ device_id: 't1', ciphertext: b64('secret') }] } });
      await s.next('sent_ack');
      const x = await online(thief, 'x1');
      x.send({ type: 'delivery_ack', payload: { message_ids: ['mine'] } });
      x.send({ type: 'heartbeat' });
      await x.next('heartbeat_ack');
      const again = await TestClient.connect(fx.relay.url, target, 't1', { token: await jwt(target, 't1') });
      await again.next('queue_empty');
      expect(again.all('deliver').map((f: Frame) => f.message_id)).toEqual(['mine']);
      await Promise.all([s, x, again].map((c) => c.close()));
    });

    it('a burst over the message rate gets rate_limited with retry_after, then 4429', async () => {
      const [sender, target] = [uid('burst'), uid('sink')];
      (await online(target, 't1')).ws.terminate();
      const s = await online(sender, 's1');
      for (let i = 0; i < 5; i++) s.send({ type: 'send', id: `b${i}`, payload: { to: target, messages: [{ device_id: 't1', ciphertext: b64('x') }] } });
      for (let i = 0; i < 5; i++) await s.next((f) => f.type === 'sent_ack' && f.message_id === `b${i}`);
      s.send({ type: 'send', id: 'over', payload: { to: target, messages: [{ device_id: 't1', ciphertext: b64('x') }] } });
      const limited = await s.next('error');
      expect(limited).toMatchObject({ id: 'over', payload: { error_code: 'rate_limited', retry_after: 1 } });
      for (let i = 0; i < 10; i++) s.send({ type: 'send', id: `more${i}`, payload: { to: target, messages: [{ device_id: 't1', ciphertext: b64('x') }] } });
      expect(await s.closed).toBe(4429);
    });
  });
});

describe('connection caps', () => {
  let nodeCap: RelayProcess;
  let ipCap: RelayProcess;
  beforeAll(async () => {
    [nodeCap, ipCap] = await Promise.all([
      startRelay({ DATA_DIR: tempDir('node-cap'), JWT_SECRET: TEST_SECRET, MAX_CONNECTIONS: '3' }),
      startRelay({ DATA_DIR: tempDir('ip-cap'), JWT_SECRET: TEST_SECRET, MAX_CONNECTIONS_PER_IP: '3', RATE_CONNECTS_PER_IP_BURST: '10', RATE_CONNECTS_PER_IP_PER_SECOND: '0.01' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([nodeCap.stop(), ipCap.stop()]);
  });

  it('closes a connection beyond the node-wide cap with 1013', async () => {
    const open = [await TestClient.connect(nodeCap.url, 'c1', 'd'), await TestClient.connect(nodeCap.url, 'c2', 'd'), await TestClient.connect(nodeCap.url, 'c3', 'd')];
    const fourth = await TestClient.connect(nodeCap.url, 'c4', 'd');
    expect(await fourth.closed).toBe(1013);
    await open[0]!.close();
    const later = await TestClient.connect(nodeCap.url, 'c5', 'd');
    later.send({ type: 'heartbeat' });
    await later.next('heartbeat_ack');
    expect(nodeCap.child.exitCode).toBeNull();
    await Promise.all([open[1]!, open[2]!, later].map((c) => c.close()));
  });

  it('refuses an address over its socket cap, then over its upgrade-attempt rate, with 429', async () => {
    const open = [await TestClient.connect(ipCap.url, 'i1', 'd'), await TestClient.connect(ipCap.url, 'i2', 'd'), await TestClient.connect(ipCap.url, 'i3', 'd')];
    const bearer = async (u: string) => ({ headers: { authorization: `Bearer ${await token(u, 'd')}` } });
    expect(await upgradeStatus(ipCap.url, await bearer('i4'))).toBe(429);
    await open[0]!.close();
    expect(await upgradeStatus(ipCap.url, await bearer('i5'))).toBe(101);
    // Attempts so far: 5 of a burst of 10, refilling at one per 100 s. Spend the rest on bad tokens.
    for (let i = 0; i < 5; i++) expect(await upgradeStatus(ipCap.url)).toBe(401);
    expect(await upgradeStatus(ipCap.url, await bearer('i6'))).toBe(429);
    expect(ipCap.child.exitCode).toBeNull();
    await Promise.all([open[1]!, open[2]!].map((c) => c.close()));
  });
});

describe('the upgrade deadline', () => {
  it('answers 503 when verification cannot finish in time (a key server that never answers)', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const relay = await startRelay({ DATA_DIR: tempDir('deadline'), JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks`, AUTH_DEADLINE_MS: '300' });
    try {
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const now = Math.floor(Date.now() / 1000);
      const t = await new SignJWT({ sub: 'u', did: 'd', iat: now, exp: now + 60 }).setProtectedHeader({ alg: 'EdDSA', kid: 'k1' }).sign(privateKey);
      const started = Date.now();
      expect(await upgradeStatus(relay.url, { headers: { authorization: `Bearer ${t}` } })).toBe(503);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(relay.child.exitCode).toBeNull();
    } finally {
      await relay.stop();
      silent.close();
    }
  });
});
