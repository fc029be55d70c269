import { generateKeyPair, exportSPKI, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay, tempDir, type RelayProcess } from '../../tools/relay-process.ts';
import { TEST_SECRET, token } from '../helpers/tokens.ts';
import { TestClient, upgradeStatus } from '../helpers/ws-client.ts';

/** Authentication at upgrade, against a real relay process. */
describe('JWT at upgrade (HS256 secret, issuer and audience configured)', () => {
  let relay: RelayProcess;
  const claims = { iss: 'https://auth.test', aud: 'relay' };
  beforeAll(async () => {
    relay = await startRelay({ DATA_DIR: tempDir('auth'), JWT_SECRET: TEST_SECRET, JWT_ISSUER: claims.iss, JWT_AUDIENCE: claims.aud });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it.each(['header', 'subprotocol', 'query'] as const)('accepts a valid token carried by %s', async (carrier) => {
    const c = await TestClient.connect(relay.url, `u-${carrier}`, 'd1', { token: await token(`u-${carrier}`, 'd1', { claims }), carrier });
    if (carrier === 'subprotocol') expect(c.ws.protocol).toBe('bearer');
    c.send({ type: 'heartbeat', payload: {} });
    await c.next('heartbeat_ack');
    await c.close();
  });

  const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });

  it('refuses a missing token with 401', async () => {
    expect(await upgradeStatus(relay.url)).toBe(401);
  });

  it('refuses a bad signature with 401', async () => {
    const t = await token('eve', 'd1', { claims });
    const forged = t.slice(0, -4) + (t.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(await upgradeStatus(relay.url, bearer(forged))).toBe(401);
  });

  it('refuses alg none with 401', async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: 'eve', did: 'd1', iat: now, exp: now + 60, ...claims })}.`;
    expect(await upgradeStatus(relay.url, bearer(unsigned))).toBe(401);
  });

  it('refuses a token without exp with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const t = await new SignJWT({ sub: 'eve', did: 'd1', iat: now, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(TEST_SECRET));
    expect(await upgradeStatus(relay.url, bearer(t))).toBe(401);
  });

  it('refuses an expired token with 401', async () => {
    expect(await upgradeStatus(relay.url, bearer(await token('eve', 'd1', { ttlSeconds: -60, claims })))).toBe(401);
  });

  it('refuses a token issued in the future (iat beyond the clock tolerance) with 401, and accepts a few seconds of skew', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await upgradeStatus(relay.url, bearer(await token('eve', 'd1', { claims: { ...claims, iat: now + 120 } })))).toBe(401);
    expect(await upgradeStatus(relay.url, bearer(await token('eve', 'd1', { claims: { ...claims, iat: now + 2 } })))).toBe(101);
  });

  it('refuses a wrong audience and a wrong issuer with 401', async () => {
    expect(await upgradeStatus(relay.url, bearer(await token('eve', 'd1', { claims: { ...claims, aud: 'other' } })))).toBe(401);
    expect(await upgradeStatus(relay.url, bearer(await token('eve', 'd1', { claims: { ...claims, iss: 'https://evil.test' } })))).toBe(401);
  });

  it('refuses a token without a device id with 401', async () => {
    expect(await upgradeStatus(relay.url, bearer(await token('eve', 'd1', { claims: { ...claims, did: undefined } })))).toBe(401);
  });

  it('refuses a token in a cookie when no origin allow-list is configured', async () => {
    const t = await token('eve', 'd1', { claims });
    expect(await upgradeStatus(relay.url, { headers: { cookie: `relay_token=${t}`, origin: 'https://app.test' } })).toBe(401);
  });

  it('refuses an oversized token with 401', async () => {
    const huge = await token('eve', 'd1', { claims: { ...claims, pad: 'x'.repeat(5000) } });
    expect(await upgradeStatus(relay.url, bearer(huge))).toBe(401);
  });
});

describe('JWT at upgrade (EdDSA public key)', () => {
  let relay: RelayProcess;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  beforeAll(async () => {
    keys = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    relay = await startRelay({ DATA_DIR: tempDir('auth-eddsa'), JWT_PUBLIC_KEY: await exportSPKI(keys.publicKey) });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it('accepts an EdDSA token and refuses an HS256 one (no algorithm confusion)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = await new SignJWT({ sub: 'ed', did: 'd1', iat: now, exp: now + 60 }).setProtectedHeader({ alg: 'EdDSA' }).sign(keys.privateKey);
    expect(await upgradeStatus(relay.url, { headers: { authorization: `Bearer ${good}` } })).toBe(101);
    const pem = await exportSPKI(keys.publicKey);
    const confused = await new SignJWT({ sub: 'ed', did: 'd1', iat: now, exp: now + 60 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(pem));
    expect(await upgradeStatus(relay.url, { headers: { authorization: `Bearer ${confused}` } })).toBe(401);
  });
});

describe('JWT at upgrade in a cookie (ALLOWED_ORIGINS set)', () => {
  let relay: RelayProcess;
  const app = 'https://app.test';
  beforeAll(async () => {
    relay = await startRelay({ DATA_DIR: tempDir('auth-cookie'), JWT_SECRET: TEST_SECRET, ALLOWED_ORIGINS: `${app},https://admin.app.test`, TOKEN_COOKIE: 'session_jwt' });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it('accepts the named cookie from an allowed origin, and the socket works', async () => {
    const c = await TestClient.connect(relay.url, 'cookie-user', 'd1', { carrier: 'none', headers: { cookie: `theme=dark; session_jwt=${await token('cookie-user', 'd1')}`, origin: app } });
    c.send({ type: 'heartbeat' });
    await c.next('heartbeat_ack');
    await c.close();
  });

  it('refuses the cookie without an Origin, from another origin, or under another name', async () => {
    const t = await token('cookie-user', 'd2');
    // A native client sends no Origin: the cookie alone is not enough (it must use a header it sets itself).
    expect(await upgradeStatus(relay.url, { headers: { cookie: `session_jwt=${t}` } })).toBe(401);
    // A hostile page's socket carries the victim's cookie and its own Origin.
    expect(await upgradeStatus(relay.url, { headers: { cookie: `session_jwt=${t}`, origin: 'https://evil.test' } })).toBe(403);
    expect(await upgradeStatus(relay.url, { headers: { cookie: `relay_token=${t}`, origin: app } })).toBe(401);
    // The other carriers still work from an allowed origin and without one.
    expect(await upgradeStatus(relay.url, { headers: { authorization: `Bearer ${t}`, origin: app } })).toBe(101);
    expect(await upgradeStatus(relay.url, { headers: { authorization: `Bearer ${t}` } })).toBe(101);
  });
});
