import sodium from 'libsodium-wrappers';
import { approvalMessage, decodeIdentityKey } from '../src/protocol/approval-message.ts';
import { decodeBase64Exact, encodeBase64 } from '../src/protocol/base64.ts';
import type { SignedDeviceList } from '../src/protocol/device-list-message.ts';
import type { DeviceEntry } from '../src/protocol/server-frame-shapes.ts';
import { signedListValid } from './device-list.ts';

/**
 * A device's long-term Ed25519 identity, and the approval signatures made
 * and checked with it. The private key never leaves the device: the relay
 * only ever sees the public half (`identity_key`).
 */
export interface DeviceIdentity {
  publicKey: Uint8Array;
  /** libsodium's 64-byte Ed25519 secret key (seed followed by the public key). */
  secretKey: Uint8Array;
  /** The public key as the relay expects it: standard base64 of 32 bytes. */
  identityKey: string;
}

/** libsodium loads its WebAssembly asynchronously; await this once before anything else here. */
export const sodiumReady = (): Promise<void> => sodium.ready;

export function generateIdentity(): DeviceIdentity {
  const kp = sodium.crypto_sign_keypair();
  return { publicKey: kp.publicKey, secretKey: kp.privateKey, identityKey: encodeBase64(kp.publicKey) };
}

/** A string to keep in the device's own storage (keychain, IndexedDB); it holds the secret key. */
export function exportIdentity(id: DeviceIdentity): string {
  return JSON.stringify({ v: 1, secret_key: encodeBase64(id.secretKey) });
}

export function importIdentity(text: string): DeviceIdentity {
  const parsed = JSON.parse(text) as { v?: number; secret_key?: string };
  const secretKey = parsed.v === 1 && typeof parsed.secret_key === 'string' ? decodeBase64Exact(parsed.secret_key, 64) : undefined;
  if (!secretKey) throw new Error('not an exported device identity');
  const publicKey = secretKey.slice(32);
  return { publicKey, secretKey, identityKey: encodeBase64(publicKey) };
}

/** The primary's signature (base64) approving `deviceId` with `identityKey` for `userId`, bound to one request. */
export function signApproval(primary: DeviceIdentity, userId: string, deviceId: string, identityKey: string, requestId: string): string {
  const key = decodeIdentityKey(identityKey);
  if (!key) throw new Error('identity_key is not base64 of 32 bytes');
  return encodeBase64(sodium.crypto_sign_detached(approvalMessage(userId, deviceId, key, requestId), primary.secretKey));
}

export function verifyApproval(signature: string, approverKey: Uint8Array, userId: string, deviceId: string, identityKey: Uint8Array, requestId: string): boolean {
  const sig = decodeBase64Exact(signature, sodium.crypto_sign_BYTES);
  if (!sig) return false;
  try {
    return sodium.crypto_sign_verify_detached(sig, approvalMessage(userId, deviceId, identityKey, requestId), approverKey);
  } catch {
    return false;
  }
}

export interface VerifiedDevice {
  deviceId: string;
  identityKey: string;
  publicKey: Uint8Array;
  primary: boolean;
  /** Who vouched for it: `self` for a root primary (trusted on first use or pinned), else the approving device. */
  vouchedBy: string;
}

export interface DeviceListCheck {
  trusted: VerifiedDevice[];
  /** `invalid_list` and `stale_list` name the user rather than a device (SecureMessenger's whole-list checks). */
  untrusted: { deviceId: string; reason: 'no_identity_key' | 'unpinned_root' | 'unknown_approver' | 'bad_signature' | 'revoked' | 'invalid_list' | 'stale_list' }[];
  /**
   * The list signed as a whole that came with it: `none`, `valid` (its
   * version in `listVersion`; an app refuses a version below one it saw)
   * or `invalid` (a relay that forged or damaged it: trust nothing).
   */
  signedList: 'none' | 'valid' | 'invalid';
  listVersion: number | null;
}

/**
 * Checks a `devices` list the way a careful client does, without trusting
 * the relay. Roots are primaries that approved themselves (the first
 * device of an account). When `pinned` holds keys the app saw before, a
 * root must be one of them, so a relay that swaps in its own "primary" is
 * caught; with nothing pinned, roots are trusted on first use and the app
 * should pin them. Every other device is trusted only through a chain of
 * valid approval signatures ending at a trusted device.
 *
 * With `signed`, the list the primary signed as a whole: its primary is a
 * root too (as pinned as any other), and a device it names as revoked is
 * never trusted, even when its old approval signature still verifies.
 */
export function verifyDeviceList(userId: string, devices: readonly DeviceEntry[], pinned: ReadonlySet<string> = new Set(), signed: SignedDeviceList | null = null): DeviceListCheck {
  const signedOk = signed !== null && signedListValid(userId, signed);
  const signedRootKey = signedOk ? signed.devices.find((d) => d.device_id === signed.primary)?.identity_key : undefined;
  const revoked = new Set(signedOk ? signed.revoked : []);
  const keyOf = new Map<string, Uint8Array>();
  const untrusted: DeviceListCheck['untrusted'] = [];
  for (const d of devices) {
    const key = d.identity_key ? decodeIdentityKey(d.identity_key) : undefined;
    if (key) keyOf.set(d.device_id, key);
    else untrusted.push({ deviceId: d.device_id, reason: 'no_identity_key' });
  }
  const trusted = new Map<string, VerifiedDevice>();
  const entry = (d: DeviceEntry, vouchedBy: string): VerifiedDevice => ({ deviceId: d.device_id, identityKey: d.identity_key!, publicKey: keyOf.get(d.device_id)!, primary: d.primary, vouchedBy });

  // A device the signed list names as revoked is out before the walk: it vouches for nobody either,
  // so a thief holding a revoked device's key cannot approve a device of its own.
  for (const d of devices) if (revoked.has(d.device_id) && keyOf.has(d.device_id)) untrusted.push({ deviceId: d.device_id, reason: 'revoked' });
  const candidates = devices.filter((d) => keyOf.has(d.device_id) && !revoked.has(d.device_id));
  for (const d of candidates) {
    const isRoot = d.approved_by === null || pinned.has(d.identity_key!) || (d.device_id === signed?.primary && d.identity_key === signedRootKey);
    if (!isRoot) continue;
    if (pinned.size > 0 && !pinned.has(d.identity_key!)) untrusted.push({ deviceId: d.device_id, reason: 'unpinned_root' });
    else trusted.set(d.device_id, entry(d, 'self'));
  }
  // Walk approval chains outwards from the roots until nothing changes.
  let grew = true;
  while (grew) {
    grew = false;
    for (const d of candidates) {
      if (trusted.has(d.device_id) || d.approved_by === null) continue;
      const approver = trusted.get(d.approved_by);
      if (!approver || !d.approval_signature || !d.approval_request) continue;
      if (verifyApproval(d.approval_signature, approver.publicKey, userId, d.device_id, keyOf.get(d.device_id)!, d.approval_request)) {
        trusted.set(d.device_id, entry(d, approver.deviceId));
        grew = true;
      }
    }
  }
  for (const d of candidates) {
    if (trusted.has(d.device_id) || d.approved_by === null || untrusted.some((u) => u.deviceId === d.device_id)) continue;
    const approverTrusted = trusted.has(d.approved_by);
    untrusted.push({ deviceId: d.device_id, reason: approverTrusted ? 'bad_signature' : 'unknown_approver' });
  }
  return { trusted: [...trusted.values()], untrusted, signedList: signed === null ? 'none' : signedOk ? 'valid' : 'invalid', listVersion: signedOk ? signed.version : null };
}
