import { describe, expect, it } from 'vitest';
import { verifyDeviceList, type DeviceIdentity } from '../../sdk/device-identity.ts';
import { currentStatement, signDeviceList } from '../../sdk/device-list.ts';
import type { SignedDeviceList } from '../../src/protocol/device-list-message.ts';
import type { DeviceEntry } from '../../src/protocol/server-frame-shapes.ts';
import type { Accounts } from '../helpers/accounts.ts';
import { backends } from '../helpers/databases.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import type { Frame, TestClient } from '../helpers/ws-client.ts';

/**
 * The primary signs its user's whole device list (`device_list_sign`), so that a
 * relay can no longer show a revoked device again: the signed list names
 * it, and a client that checks the list refuses it even though its old
 * approval signature still verifies.
 */
interface DevicesPayload {
  user_id: string;
  devices: DeviceEntry[];
  revoked: string[];
  signed_list: SignedDeviceList | null;
}

const identityOf = (accounts: Accounts, user: string, device: string): DeviceIdentity => {
  const k = accounts.keysOf(user, device);
  return { publicKey: k.publicKey, secretKey: k.privateKey, identityKey: k.b64 };
};

/** The relay's list now: frames already received (older lists among them) are skipped. */
const list = async (c: TestClient, user: string): Promise<DevicesPayload> => {
  c.skipReceived();
  c.send({ type: 'devices_list', payload: { user_id: user } });
  return (await c.next((f) => f.type === 'devices' && (f.payload as unknown as DevicesPayload).user_id === user)).payload as unknown as DevicesPayload;
};

/** Signs the relay's current list as the next version; returns the relay's answer. */
const signCurrent = async (c: TestClient, accounts: Accounts, user: string, signer: string, tweak: (p: { version: number; signature: string }) => void = () => {}): Promise<Frame> => {
  const statement = currentStatement(await list(c, user))!;
  const payload = { version: statement.version, signature: signDeviceList(identityOf(accounts, user, signer), user, statement) };
  tweak(payload);
  c.send({ type: 'device_list_sign', id: 'sign', payload });
  return c.next((f) => f.type === 'device_list_signed' || f.type === 'error');
};

describe.each(backends)('signed device lists on %s', (kind) => {
  const fx = useRelay(kind);

  it('stores a list the primary signed, in version order, and shows it to every device', async () => {
    const alice = uid('alice');
    const a1 = await fx.accounts.online(alice, 'a1');
    const before = await list(a1, alice);
    expect(before).toMatchObject({ revoked: [], signed_list: null });

    expect(await signCurrent(a1, fx.accounts, alice, 'a1')).toMatchObject({ type: 'device_list_signed', payload: { version: 1 } });
    const pushed = (await a1.next((f) => f.type === 'devices' && (f.payload as unknown as DevicesPayload).signed_list !== null)).payload as unknown as DevicesPayload;
    expect(pushed.signed_list).toMatchObject({ version: 1, primary: 'a1', signer: 'a1', devices: [{ device_id: 'a1', identity_key: fx.accounts.keysOf(alice, 'a1').b64 }], revoked: [] });
    expect(verifyDeviceList(alice, pushed.devices, new Set(), pushed.signed_list)).toMatchObject({ signedList: 'valid', listVersion: 1, untrusted: [] });

    // The same version again, a version that skips one, and a signature by the wrong key are refused.
    expect(await signCurrent(a1, fx.accounts, alice, 'a1', (p) => (p.version = 1))).toMatchObject({ payload: { error_code: 'stale_list_version', version: 1 } });
    expect(await signCurrent(a1, fx.accounts, alice, 'a1', (p) => (p.version = 5))).toMatchObject({ payload: { error_code: 'stale_list_version', version: 1 } });
    expect(await signCurrent(a1, fx.accounts, alice, 'a9')).toMatchObject({ payload: { error_code: 'invalid_signature' } });

    // Only the primary signs.
    const a2 = await fx.accounts.online(alice, 'a2');
    expect(await signCurrent(a2, fx.accounts, alice, 'a2')).toMatchObject({ payload: { error_code: 'not_primary' } });
    await Promise.all([a1.close(), a2.close()]);
  });

  it('names a revoked device in the next signed list, so a relay that lists it again is caught', async () => {
    const bob = uid('bob');
    const b1 = await fx.accounts.online(bob, 'b1');
    const b2 = await fx.accounts.online(bob, 'b2');
    expect(await signCurrent(b1, fx.accounts, bob, 'b1')).toMatchObject({ payload: { version: 1 } });
    const withB2 = await list(b1, bob);
    expect(withB2.signed_list?.devices.map((d) => d.device_id).sort()).toEqual(['b1', 'b2']);

    b1.send({ type: 'device_revoke', payload: { device_id: 'b2' } });
    expect(await b2.closed).toBe(4403);
    expect(await signCurrent(b1, fx.accounts, bob, 'b1')).toMatchObject({ payload: { version: 2 } });
    const after = await list(b1, bob);
    expect(after).toMatchObject({ revoked: ['b2'], signed_list: { version: 2, revoked: ['b2'] } });
    expect(after.devices.map((d) => d.device_id)).toEqual(['b1']);

    // A relay that shows b2 again, beside the latest signed list: b2's approval still verifies,
    // and without the signed list the client would trust it. With it, b2 is refused.
    expect(
      verifyDeviceList(bob, withB2.devices)
        .trusted.map((d) => d.deviceId)
        .sort(),
    ).toEqual(['b1', 'b2']);
    const forged = verifyDeviceList(bob, withB2.devices, new Set(), after.signed_list);
    expect(forged.trusted.map((d) => d.deviceId)).toEqual(['b1']);
    expect(forged.untrusted).toEqual([{ deviceId: 'b2', reason: 'revoked' }]);
    await b1.close();
  });
});
