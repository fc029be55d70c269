import { describe, expect, it } from 'vitest';
import { backends } from '../helpers/databases.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { token } from '../helpers/tokens.ts';
import { TestClient, upgradeStatus } from '../helpers/ws-client.ts';

/**
 * A token holder picks its device id, and each new id connecting used to
 * leave a device row behind. Rows of devices that never registered are
 * capped per user (MAX_UNREGISTERED_DEVICES_PER_USER): past the cap a new
 * id is refused at the upgrade and nothing is written, while devices with
 * a row connect as before.
 */
const status = async (url: string, user: string, device: string) => upgradeStatus(url, { headers: { authorization: `Bearer ${await token(user, device)}` } });

describe.each(backends)('unregistered device rows on %s', (kind) => {
  const fx = useRelay(kind, { MAX_UNREGISTERED_DEVICES_PER_USER: '3' });

  it('refuses a new device id past the cap, and lets known devices in', async () => {
    const alice = uid('alice');
    const primary = await TestClient.connect(fx.relay.url, alice, 'a1');
    expect(await fx.accounts.register(primary, alice, 'a1')).toBeUndefined();
    for (const d of ['x1', 'x2', 'x3']) expect(await status(fx.relay.url, alice, d)).toBe(101);
    expect(await status(fx.relay.url, alice, 'x4')).toBe(429);
    // The refused id left no row: it is refused again, not let in as a known device.
    expect(await status(fx.relay.url, alice, 'x4')).toBe(429);
    // Known ids, unregistered or approved, still connect; other users have their own room.
    expect(await status(fx.relay.url, alice, 'x1')).toBe(101);
    await primary.close();
    expect(await status(fx.relay.url, alice, 'a1')).toBe(101);
    expect(await status(fx.relay.url, uid('bob'), 'x4')).toBe(101);

    // A device that registers is no longer unregistered: it frees its place.
    const x2 = await TestClient.connect(fx.relay.url, alice, 'x2');
    const back = await TestClient.connect(fx.relay.url, alice, 'a1');
    await fx.accounts.register(x2, alice, 'x2');
    expect(await back.next('device_approval_request')).toMatchObject({ payload: { device_id: 'x2' } });
    expect(await status(fx.relay.url, alice, 'x4')).toBe(101);
    expect(await status(fx.relay.url, alice, 'x5')).toBe(429);
    await Promise.all([x2.close(), back.close()]);
  });
});
