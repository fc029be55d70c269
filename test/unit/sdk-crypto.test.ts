import { beforeAll, describe, expect, it } from 'vitest';
import { exportIdentity, generateIdentity, importIdentity, open, seal, signApproval, sodiumReady, verifyDeviceList, type DeviceIdentity } from '../../sdk/index.ts';
import type { DeviceEntry } from '../../src/protocol/server-frame-shapes.ts';

beforeAll(sodiumReady);

const entry = (deviceId: string, id: DeviceIdentity, approvedBy: string | null, signature: string | null, request: string | null, primary = false): DeviceEntry => ({
  device_id: deviceId,
  device_name: deviceId,
  device_type: 'test',
  identity_key: id.identityKey,
  primary,
  approved_by: approvedBy,
  approval_signature: signature,
  approval_request: request,
  approved_at: new Date(0).toISOString(),
});

describe('device list verification', () => {
  const user = 'alice';
  let phone: DeviceIdentity, laptop: DeviceIdentity, tablet: DeviceIdentity;
  beforeAll(() => {
    [phone, laptop, tablet] = [generateIdentity(), generateIdentity(), generateIdentity()];
  });
  const honest = () => [
    entry('phone', phone, null, null, null, true),
    entry('laptop', laptop, 'phone', signApproval(phone, user, 'laptop', laptop.identityKey, 'req_1'), 'req_1'),
    // Approved by the laptop (no longer a primary, but it vouched while it was one): a two-step chain.
    entry('tablet', tablet, 'laptop', signApproval(laptop, user, 'tablet', tablet.identityKey, 'req_2'), 'req_2'),
  ];

  it('trusts a chain of approvals from the root, in any order', () => {
    const check = verifyDeviceList(user, honest().reverse());
    expect(check.untrusted).toEqual([]);
    expect(Object.fromEntries(check.trusted.map((d) => [d.deviceId, d.vouchedBy]))).toEqual({ phone: 'self', laptop: 'phone', tablet: 'laptop' });
  });

  it('rejects a swapped key, a signature for another request, and an unknown approver', () => {
    const list = honest();
    list[1] = { ...list[1]!, identity_key: generateIdentity().identityKey };
    expect(verifyDeviceList(user, list).untrusted.map((u) => [u.deviceId, u.reason])).toEqual([
      ['laptop', 'bad_signature'],
      ['tablet', 'unknown_approver'],
    ]);
    const replayed = honest();
    replayed[1] = { ...replayed[1]!, approval_request: 'req_other' };
    expect(verifyDeviceList(user, replayed).untrusted[0]).toEqual({ deviceId: 'laptop', reason: 'bad_signature' });
    const otherUser = verifyDeviceList('mallory', honest());
    expect(otherUser.trusted.map((d) => d.deviceId)).toEqual(['phone']);
  });

  it('with pinned keys, a root the app never saw is not trusted', () => {
    const check = verifyDeviceList(user, honest(), new Set([generateIdentity().identityKey]));
    expect(check.trusted).toEqual([]);
    expect(check.untrusted).toContainEqual({ deviceId: 'phone', reason: 'unpinned_root' });
    expect(verifyDeviceList(user, honest(), new Set([phone.identityKey])).untrusted).toEqual([]);
  });

  it('an identity survives export and import', () => {
    const back = importIdentity(exportIdentity(phone));
    expect(back.identityKey).toBe(phone.identityKey);
    expect(Buffer.from(back.secretKey).equals(Buffer.from(phone.secretKey))).toBe(true);
    expect(() => importIdentity('{"v":1,"secret_key":"AAAA"}')).toThrow();
  });
});

describe('sealed envelopes', () => {
  const bob = { userId: 'bob', deviceId: 'laptop' };
  let a: DeviceIdentity, b: DeviceIdentity, eve: DeviceIdentity;
  beforeAll(() => {
    [a, b, eve] = [generateIdentity(), generateIdentity(), generateIdentity()];
  });
  const content = (body: string, id = 'm1') => ({ v: 1 as const, from_user: 'alice', from_device: 'phone', to_user: 'bob', to_device: 'laptop', message_id: id, body });
  const claimed = { senderId: 'alice', senderDevice: 'phone', messageId: 'm1' };

  it('opens for the recipient, and the ciphertext does not contain the plaintext', () => {
    const ct = seal(content('meet at noon'), a, b.publicKey);
    expect(Buffer.from(ct, 'base64').toString('latin1')).not.toContain('meet at noon');
    const r = open(ct, { ...bob, identity: b }, claimed, a.publicKey);
    expect(r).toMatchObject({ ok: true, content: { body: 'meet at noon' } });
  });

  it('refuses the wrong recipient key, a forged sender, a relayed claim and a replayed id', () => {
    const ct = seal(content('hi'), a, b.publicKey);
    expect(open(ct, { ...bob, identity: eve }, claimed, a.publicKey)).toEqual({ ok: false, reason: 'not_for_us' });
    expect(open(seal(content('hi'), eve, b.publicKey), { ...bob, identity: b }, claimed, a.publicKey)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(open(ct, { ...bob, identity: b }, { ...claimed, senderDevice: 'laptop' }, a.publicKey)).toEqual({ ok: false, reason: 'wrong_sender' });
    expect(open(ct, { ...bob, identity: b }, { ...claimed, messageId: 'm2' }, a.publicKey)).toEqual({ ok: false, reason: 'wrong_id' });
    expect(open(ct, { userId: 'carol', deviceId: 'laptop', identity: b }, claimed, a.publicKey)).toEqual({ ok: false, reason: 'wrong_recipient' });
    expect(open('not base64!', { ...bob, identity: b }, claimed, a.publicKey)).toEqual({ ok: false, reason: 'malformed' });
  });
});
