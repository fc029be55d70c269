import sodium from 'libsodium-wrappers';
import { decodeIdentityKey } from '../src/protocol/approval-message.ts';
import { decodeBase64Exact, encodeBase64 } from '../src/protocol/base64.ts';
import { deviceListMessage, type DeviceListStatement, type SignedDeviceList } from '../src/protocol/device-list-message.ts';
import type { DeviceEntry, ServerFrameOf } from '../src/protocol/server-frame-shapes.ts';
import { verifyApproval, type DeviceIdentity } from './device-identity.ts';

type DevicesPayload = ServerFrameOf<'devices'>['payload'];

/**
 * Device lists signed as a whole (docs/device-approval.md): what a primary
 * checks before it signs the next one, and how any client checks one. The
 * relay is not trusted with either: a primary signs only a list that
 * follows from the one it signed before by approvals it can verify and by
 * revocations, and never brings back a revoked device.
 */

/** Whether a signed list's signature verifies with the key it lists for its signer, the primary. */
export function signedListValid(userId: string, list: SignedDeviceList): boolean {
  if (list.signer !== list.primary) return false;
  const signer = list.devices.find((d) => d.device_id === list.signer);
  const key = signer && decodeIdentityKey(signer.identity_key);
  const sig = decodeBase64Exact(list.signature, sodium.crypto_sign_BYTES);
  const message = deviceListMessage(userId, list);
  if (!key || !sig || !message) return false;
  try {
    return sodium.crypto_sign_verify_detached(sig, message, key);
  } catch {
    return false;
  }
}

/** The list the relay holds now, as the next version to sign; undefined while no device is primary. */
export function currentStatement(p: DevicesPayload): DeviceListStatement | undefined {
  const primary = p.devices.find((d) => d.primary);
  if (!primary || p.devices.some((d) => !d.identity_key)) return undefined;
  return {
    version: (p.signed_list?.version ?? 0) + 1,
    primary: primary.device_id,
    devices: p.devices.map((d) => ({ device_id: d.device_id, identity_key: d.identity_key! })),
    revoked: [...p.revoked],
  };
}

/** Whether the signed list says exactly what the current one does (the version aside). */
export function listCovers(signed: DeviceListStatement | null, current: DeviceListStatement): boolean {
  if (!signed || signed.primary !== current.primary) return false;
  const entries = (s: DeviceListStatement) => new Set(s.devices.map((d) => `${d.device_id}\n${d.identity_key}`));
  return sameSet(entries(signed), entries(current)) && sameSet(new Set(signed.revoked), new Set(current.revoked));
}

export type TransitionProblem =
  | 'not_primary'
  | 'bad_previous_signature'
  | 'unknown_previous_signer'
  | 'dropped_revocation'
  | 'revived_device'
  | 'removed_not_revoked'
  | 'key_changed'
  | 'primary_not_handed_over'
  | 'unvouched_device';

/**
 * Why the primary `me` must not sign `next` after `prev`, or undefined when
 * it may. With a previous list: it must verify (with our own key when we
 * signed it, else with a key in `trustedKeys`, e.g. the old primary's key
 * that the app pinned), revocations only accumulate, a revoked device never
 * comes back, a device leaves only by being revoked, keys do not change, the
 * primary changes only to a device of the previous list when the old one is
 * revoked, and every new device carries an approval signature by a device
 * already vouched for. With none (the first list), every other device must
 * chain back to us by approval signatures.
 */
export function checkTransition(
  userId: string,
  me: { deviceId: string; identityKey: string },
  prev: SignedDeviceList | null,
  next: DeviceListStatement,
  entries: readonly DeviceEntry[],
  trustedKeys: ReadonlySet<string> = new Set(),
): TransitionProblem | undefined {
  const mine = next.devices.find((d) => d.device_id === me.deviceId);
  if (next.primary !== me.deviceId || mine?.identity_key !== me.identityKey) return 'not_primary';
  const vouched = new Map<string, Uint8Array>();
  if (prev) {
    const signerKey = prev.devices.find((d) => d.device_id === prev.signer)?.identity_key;
    if (!signedListValid(userId, prev) || !signerKey) return 'bad_previous_signature';
    if (!(prev.signer === me.deviceId && signerKey === me.identityKey) && !trustedKeys.has(signerKey)) return 'unknown_previous_signer';
    const revoked = new Set(next.revoked);
    if (prev.revoked.some((id) => !revoked.has(id))) return 'dropped_revocation';
    const wasRevoked = new Set(prev.revoked);
    if (next.devices.some((d) => wasRevoked.has(d.device_id))) return 'revived_device';
    const nextById = new Map(next.devices.map((d) => [d.device_id, d.identity_key]));
    for (const d of prev.devices) {
      const key = nextById.get(d.device_id);
      if (key === undefined && !revoked.has(d.device_id)) return 'removed_not_revoked';
      if (key !== undefined && key !== d.identity_key) return 'key_changed';
      const raw = decodeIdentityKey(d.identity_key);
      if (key !== undefined && raw) vouched.set(d.device_id, raw);
    }
    if (next.primary !== prev.primary && (!prev.devices.some((d) => d.device_id === next.primary) || !revoked.has(prev.primary))) return 'primary_not_handed_over';
  } else {
    const raw = decodeIdentityKey(me.identityKey);
    if (raw) vouched.set(me.deviceId, raw);
  }
  // New devices, vouched for in approval order: each by a device already vouched for.
  const byId = new Map(entries.map((e) => [e.device_id, e]));
  let fresh = next.devices.filter((d) => !vouched.has(d.device_id));
  for (let grew = true; grew && fresh.length > 0; ) {
    grew = false;
    fresh = fresh.filter((d) => {
      const e = byId.get(d.device_id);
      const approver = e?.approved_by ? vouched.get(e.approved_by) : undefined;
      const key = decodeIdentityKey(d.identity_key);
      if (!e || !approver || !key || !e.approval_signature || !e.approval_request) return true;
      if (!verifyApproval(e.approval_signature, approver, userId, d.device_id, key, e.approval_request)) return true;
      vouched.set(d.device_id, key);
      grew = true;
      return false;
    });
  }
  return fresh.length > 0 ? 'unvouched_device' : undefined;
}

/** The primary's signature (base64) over the statement. */
export function signDeviceList(primary: DeviceIdentity, userId: string, statement: DeviceListStatement): string {
  const message = deviceListMessage(userId, statement);
  if (!message) throw new Error('the device list cannot be encoded (bad key, repeated id or version)');
  return encodeBase64(sodium.crypto_sign_detached(message, primary.secretKey));
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const v of a) if (!b.has(v)) return false;
  return true;
}
