import { describe, expect, it } from 'vitest';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { token } from '../helpers/tokens.ts';
import { TestClient, upgradeStatus } from '../helpers/ws-client.ts';

/**
 * Behind a proxy every connection comes from the proxy's address. With
 * TRUSTED_PROXIES naming it, per-address limits and approval requests see
 * the client's address from X-Forwarded-For (IPv6 grouped by /64); without
 * it, the header is ignored and anyone may write it.
 */
const from = (address: string) => ({ 'x-forwarded-for': address });
const open = (url: string, address: string) => {
  const user = uid('u');
  return TestClient.connect(url, user, 'd1', { headers: from(address) });
};
const status = async (url: string, address: string) => {
  const user = uid('u');
  return upgradeStatus(url, { headers: { ...from(address), authorization: `Bearer ${await token(user, 'd1')}` } });
};

describe('behind a trusted proxy', () => {
  const fx = useRelay('pglite', { TRUSTED_PROXIES: '127.0.0.1/32,::1', MAX_CONNECTIONS_PER_IP: '2' });

  it('counts connections per client address, and per /64 for IPv6', async () => {
    const held = [await open(fx.relay.url, '198.51.100.1'), await open(fx.relay.url, '198.51.100.1')];
    expect(await status(fx.relay.url, '198.51.100.1')).toBe(429);
    expect(await status(fx.relay.url, '198.51.100.2')).toBe(101);
    // The client wrote an address of its own in front of the proxy's: the proxy's entry counts.
    expect(await status(fx.relay.url, '203.0.113.5, 198.51.100.1')).toBe(429);
    held.push(await open(fx.relay.url, '2001:db8:1:2::1'), await open(fx.relay.url, '2001:db8:1:2::2'));
    expect(await status(fx.relay.url, '2001:db8:1:2:ffff::3')).toBe(429);
    expect(await status(fx.relay.url, '2001:db8:1:3::1')).toBe(101);
    await Promise.all(held.map((c) => c.close()));
  });

  it('shows the client address, not the proxy, in the approval request', async () => {
    const alice = uid('alice');
    const primary = await TestClient.connect(fx.relay.url, alice, 'a1', { headers: from('198.51.100.20') });
    expect(await fx.accounts.register(primary, alice, 'a1')).toBeUndefined();
    const added = await TestClient.connect(fx.relay.url, alice, 'a2', { headers: from('198.51.100.77') });
    await fx.accounts.register(added, alice, 'a2');
    expect(await primary.next('device_approval_request')).toMatchObject({ payload: { device_id: 'a2', ip_address: '198.51.100.77' } });
    await Promise.all([primary.close(), added.close()]);
  });
});

describe('with no trusted proxy', () => {
  const fx = useRelay('pglite', { MAX_CONNECTIONS_PER_IP: '2' });

  it('ignores X-Forwarded-For: every connection counts under the socket address', async () => {
    const held = [await open(fx.relay.url, '198.51.100.1'), await open(fx.relay.url, '198.51.100.2')];
    expect(await status(fx.relay.url, '198.51.100.3')).toBe(429);
    await Promise.all(held.map((c) => c.close()));
  });
});
