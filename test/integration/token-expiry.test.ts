import { describe, expect, it } from 'vitest';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { token } from '../helpers/tokens.ts';
import { b64, TestClient } from '../helpers/ws-client.ts';

/**
 * A socket lives no longer than its token: the relay closes it with 4401 at
 * `exp` (within about two seconds) even when the device never sends a frame,
 * unless the device renewed it with `token_refresh` first.
 */
describe('token expiry on an open socket', () => {
  const fx = useRelay('pglite');
  /** A first (primary) device on a token that lasts `ttl` seconds. */
  const primary = async (user: string, device: string, ttl: number) => {
    const c = await TestClient.connect(fx.relay.url, user, device, { token: await token(user, device, { ttlSeconds: ttl }) });
    if (await fx.accounts.register(c, user, device)) throw new Error('expected a first device');
    await c.next('queue_empty');
    return c;
  };
  const send = (c: TestClient, id: string, to: string, device: string) => c.send({ type: 'send', id, payload: { to, messages: [{ device_id: device, ciphertext: b64(id) }] } });

  it('closes a socket that only receives with 4401 at its exp', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await fx.accounts.online(alice, 'a1');
    const started = Date.now();
    const b = await primary(bob, 'b1', 3);
    send(a, 'm1', bob, 'b1');
    await b.next('deliver');
    const code = await Promise.race([b.closed, new Promise<number>((r) => setTimeout(() => r(-1), 8000))]);
    expect(code).toBe(4401);
    const lived = Date.now() - started;
    // Not before exp (the token was signed with a whole-second iat, so exp may come up to 1 s early), and soon after it.
    expect(lived).toBeGreaterThan(1900);
    expect(lived).toBeLessThan(6000);
    await a.close();
  }, 15_000);

  it('keeps a socket renewed with token_refresh past the first exp, and refuses a token for another device or one ending no later', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await fx.accounts.online(alice, 'a1');
    const b = await primary(bob, 'b1', 3);
    b.send({ type: 'token_refresh', id: 't1', payload: { token: await token(bob, 'b2', { ttlSeconds: 3600 }) } });
    expect(await b.next('error')).toMatchObject({ id: 't1', payload: { error_code: 'invalid_token' } });
    b.send({ type: 'token_refresh', id: 't2', payload: { token: await token(bob, 'b1', { ttlSeconds: 1 }) } });
    expect(await b.next('error')).toMatchObject({ id: 't2', payload: { error_code: 'invalid_token' } });
    b.send({ type: 'token_refresh', id: 't3', payload: { token: 'not.a.token' } });
    expect(await b.next('error')).toMatchObject({ id: 't3', payload: { error_code: 'invalid_token' } });
    const renewed = await token(bob, 'b1', { ttlSeconds: 3600 });
    b.send({ type: 'token_refresh', id: 't4', payload: { token: renewed } });
    const ok = await b.next('token_refreshed');
    expect(Date.parse(String(ok.payload.expires_at))).toBeGreaterThan(Date.now() + 3500_000);
    await new Promise((r) => setTimeout(r, 5000));
    expect(b.closeCode).toBeUndefined();
    send(a, 'm2', bob, 'b1');
    expect(await b.next('deliver')).toMatchObject({ message_id: 'm2' });
    await Promise.all([a.close(), b.close()]);
  }, 15_000);
});
