import { beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity, signApproval, sodiumReady, verifyDeviceList, type DeviceIdentity } from '../../sdk/device-identity.ts';
import { checkTransition, listCovers, signDeviceList, signedListValid } from '../../sdk/device-list.ts';
import { deviceListMessage, type DeviceListStatement, type SignedDeviceList } from '../../src/protocol/device-list-message.ts';
import type { DeviceEntry } from '../../src/protocol/server-frame-shapes.ts';

/**
 * What a primary checks before it signs the next device list, and what any
 * client checks of a signed list: the rules that keep a relay from bringing
 * back a revoked device or slipping in one nobody approved.
 */
const user = 'alice';
let p1: DeviceIdentity;
let d2: DeviceIdentity;
let d3: DeviceIdentity;
let stranger: DeviceIdentity;

beforeAll(async () => {
  await sodiumReady();
  [p1, d2, d3, stranger] = [generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()];
});

const entry = (id: string, who: DeviceIdentity, approvedBy: { id: string; key: DeviceIdentity } | null, primary = false): DeviceEntry => ({
  device_id: id,
  device_name: id,
  device_type: 'test',
  identity_key: who.identityKey,
  primary,
  approved_by: approvedBy?.id ?? null,
  approval_signature: approvedBy ? signApproval(approvedBy.key, user, id, who.identityKey, `req-${id}`) : null,
  approval_request: approvedBy ? `req-${id}` : null,
  approved_at: null,
});
const statement = (version: number, primary: string, devices: [string, DeviceIdentity][], revoked: string[] = []): DeviceListStatement => ({
  version,
  primary,
  devices: devices.map(([id, k]) => ({ device_id: id, identity_key: k.identityKey })),
  revoked,
});
const signed = (s: DeviceListStatement, by: DeviceIdentity, signer = s.primary): SignedDeviceList => ({ ...s, signer, signature: signDeviceList(by, user, s) });
const me = () => ({ deviceId: 'p1', identityKey: p1.identityKey });

describe('the signed bytes', () => {
  it('do not depend on the order of devices or revocations, and refuse repeats and bad versions', () => {
    const a = deviceListMessage(
      user,
      statement(
        3,
        'p1',
        [
          ['p1', p1],
          ['d2', d2],
        ],
        ['x', 'a'],
      ),
    );
    const b = deviceListMessage(
      user,
      statement(
        3,
        'p1',
        [
          ['d2', d2],
          ['p1', p1],
        ],
        ['a', 'x'],
      ),
    );
    expect(a).toEqual(b);
    expect(
      deviceListMessage(
        user,
        statement(
          4,
          'p1',
          [
            ['p1', p1],
            ['d2', d2],
          ],
          ['x', 'a'],
        ),
      ),
    ).not.toEqual(a);
    expect(
      deviceListMessage(
        user,
        statement(3, 'p1', [
          ['p1', p1],
          ['p1', d2],
        ]),
      ),
    ).toBeUndefined();
    expect(deviceListMessage(user, statement(3, 'p1', [['p1', p1]], ['a', 'a']))).toBeUndefined();
    expect(deviceListMessage(user, statement(0, 'p1', [['p1', p1]]))).toBeUndefined();
    expect(deviceListMessage(user, { ...statement(1, 'p1', [['p1', p1]]), devices: [{ device_id: 'p1', identity_key: 'short' }] })).toBeUndefined();
  });

  it('verify only with the primary as signer, and not after any change', () => {
    const s = signed(
      statement(1, 'p1', [
        ['p1', p1],
        ['d2', d2],
      ]),
      p1,
    );
    expect(signedListValid(user, s)).toBe(true);
    expect(signedListValid(user, { ...s, revoked: ['d9'] })).toBe(false);
    expect(signedListValid('bob', s)).toBe(false);
    expect(signedListValid(user, { ...s, signer: 'd2' })).toBe(false);
    expect(
      listCovers(
        s,
        statement(2, 'p1', [
          ['d2', d2],
          ['p1', p1],
        ]),
      ),
    ).toBe(true);
    expect(listCovers(s, statement(2, 'p1', [['p1', p1]], ['d2']))).toBe(false);
  });
});

describe('what the primary checks before signing', () => {
  const entries = () => [entry('p1', p1, null, true), entry('d2', d2, { id: 'p1', key: p1 }), entry('d3', d3, { id: 'd2', key: d2 })];

  it('signs a first list whose devices chain back to it, and a next one that adds an approved device', () => {
    expect(
      checkTransition(
        user,
        me(),
        null,
        statement(1, 'p1', [
          ['p1', p1],
          ['d2', d2],
          ['d3', d3],
        ]),
        entries(),
      ),
    ).toBeUndefined();
    const v1 = signed(statement(1, 'p1', [['p1', p1]]), p1);
    expect(
      checkTransition(
        user,
        me(),
        v1,
        statement(2, 'p1', [
          ['p1', p1],
          ['d2', d2],
        ]),
        entries(),
      ),
    ).toBeUndefined();
  });

  it('refuses a device nobody it trusts approved', () => {
    const forged = [...entries(), entry('evil', stranger, { id: 'evil', key: stranger })];
    const v1 = signed(statement(1, 'p1', [['p1', p1]]), p1);
    expect(
      checkTransition(
        user,
        me(),
        v1,
        statement(2, 'p1', [
          ['p1', p1],
          ['evil', stranger],
        ]),
        forged,
      ),
    ).toBe('unvouched_device');
    expect(
      checkTransition(
        user,
        me(),
        null,
        statement(1, 'p1', [
          ['p1', p1],
          ['evil', stranger],
        ]),
        forged,
      ),
    ).toBe('unvouched_device');
  });

  it('never brings back a revoked device, never drops a revocation, and lets devices leave only by revocation', () => {
    const v2 = signed(statement(2, 'p1', [['p1', p1]], ['d2']), p1);
    expect(
      checkTransition(
        user,
        me(),
        v2,
        statement(
          3,
          'p1',
          [
            ['p1', p1],
            ['d2', d2],
          ],
          ['d2'],
        ),
        entries(),
      ),
    ).toBe('revived_device');
    expect(
      checkTransition(
        user,
        me(),
        v2,
        statement(3, 'p1', [
          ['p1', p1],
          ['d2', d2],
        ]),
        entries(),
      ),
    ).toBe('dropped_revocation');
    const v1 = signed(
      statement(1, 'p1', [
        ['p1', p1],
        ['d2', d2],
      ]),
      p1,
    );
    expect(checkTransition(user, me(), v1, statement(2, 'p1', [['p1', p1]]), entries())).toBe('removed_not_revoked');
    expect(
      checkTransition(
        user,
        me(),
        v1,
        statement(2, 'p1', [
          ['p1', p1],
          ['d2', d3],
        ]),
        entries(),
      ),
    ).toBe('key_changed');
    expect(checkTransition(user, me(), v1, statement(2, 'p1', [['p1', p1]], ['d2']), entries())).toBeUndefined();
  });

  it('checks the previous list: ours, or signed by a key it trusts', () => {
    const byStranger = signed(
      statement(1, 'x', [
        ['x', stranger],
        ['p1', p1],
      ]),
      stranger,
    );
    expect(checkTransition(user, me(), byStranger, statement(2, 'p1', [['p1', p1]], ['x']), entries())).toBe('unknown_previous_signer');
    expect(checkTransition(user, me(), { ...signed(statement(1, 'p1', [['p1', p1]]), p1), version: 7 }, statement(8, 'p1', [['p1', p1]]), entries())).toBe('bad_previous_signature');
    expect(
      checkTransition(
        user,
        me(),
        signed(statement(1, 'p1', [['p1', p1]]), p1),
        statement(2, 'd2', [
          ['p1', p1],
          ['d2', d2],
        ]),
        entries(),
      ),
    ).toBe('not_primary');
  });

  it('takes over from a revoked primary only as a device of its last list', () => {
    // d2 became primary after an operator revoked p1; d2 knows p1's key from before.
    const v1 = signed(
      statement(1, 'p1', [
        ['p1', p1],
        ['d2', d2],
      ]),
      p1,
    );
    const d2me = { deviceId: 'd2', identityKey: d2.identityKey };
    const trusted = new Set([p1.identityKey]);
    expect(checkTransition(user, d2me, v1, statement(2, 'd2', [['d2', d2]], ['p1']), entries(), trusted)).toBeUndefined();
    expect(checkTransition(user, d2me, v1, statement(2, 'd2', [['d2', d2]], ['p1']), entries())).toBe('unknown_previous_signer');
    expect(
      checkTransition(
        user,
        d2me,
        v1,
        statement(2, 'd2', [
          ['p1', p1],
          ['d2', d2],
        ]),
        entries(),
        trusted,
      ),
    ).toBe('primary_not_handed_over');
  });
});

describe('what a client checks of a signed list', () => {
  it('refuses a revoked device, and whatever it approved, even with valid approval signatures', () => {
    const entries = [entry('p1', p1, null, true), entry('d2', d2, { id: 'p1', key: p1 }), entry('d3', d3, { id: 'd2', key: d2 })];
    const v2 = signed(statement(2, 'p1', [['p1', p1]], ['d2']), p1);
    const check = verifyDeviceList(user, entries, new Set(), v2);
    expect(check.trusted.map((d) => d.deviceId)).toEqual(['p1']);
    expect(check.untrusted).toEqual([
      { deviceId: 'd2', reason: 'revoked' },
      { deviceId: 'd3', reason: 'unknown_approver' },
    ]);
    expect(check).toMatchObject({ signedList: 'valid', listVersion: 2 });
    expect(verifyDeviceList(user, entries, new Set(), { ...v2, revoked: [] })).toMatchObject({ signedList: 'invalid', listVersion: null });
  });
});
