import { decodeIdentityKey } from './approval-message.ts';

/**
 * A user's device list as the primary device signs it: which devices are
 * approved (with their keys), which one is primary, and every device ever
 * revoked, under a version number that only grows. One signature covers
 * the whole list, so a relay cannot show a revoked device again (it is
 * named in `revoked`) or pass off an older list to a client that has seen
 * a newer one (the version).
 */
export interface DeviceListStatement {
  version: number;
  primary: string;
  devices: readonly { device_id: string; identity_key: string }[];
  revoked: readonly string[];
}

/** The statement as the relay stores and sends it, with who signed it. */
export interface SignedDeviceList extends DeviceListStatement {
  signer: string;
  signature: string;
}

export const DEVICE_LIST_CONTEXT = 'relay/device-list/v1';

/**
 * The exact bytes signed:
 *
 *   "relay/device-list/v1"
 *   || len || user id || 8-byte big-endian version || len || primary device id
 *   || 4-byte device count || for each device, sorted by id: len || id || len || key (32 raw bytes)
 *   || 4-byte revoked count || for each revoked id, sorted: len || id
 *
 * where each len is 4 bytes, big-endian, as in the approval message. Both
 * lists are sorted here (by UTF-16 code unit), so the order a relay sends
 * them in does not matter. Undefined when a key is not base64 of 32 bytes,
 * an id repeats, or the version is not a positive safe integer.
 */
export function deviceListMessage(userId: string, s: DeviceListStatement): Uint8Array | undefined {
  if (!Number.isSafeInteger(s.version) || s.version < 1) return undefined;
  const enc = new TextEncoder();
  const devices = [...s.devices].sort((a, b) => compare(a.device_id, b.device_id));
  const revoked = [...s.revoked].sort(compare);
  if (hasRepeat(devices.map((d) => d.device_id)) || hasRepeat(revoked)) return undefined;
  const parts: Uint8Array[] = [enc.encode(DEVICE_LIST_CONTEXT), lengthPrefixed(enc.encode(userId)), u64(s.version), lengthPrefixed(enc.encode(s.primary)), u32(devices.length)];
  for (const d of devices) {
    const key = decodeIdentityKey(d.identity_key);
    if (!key) return undefined;
    parts.push(lengthPrefixed(enc.encode(d.device_id)), lengthPrefixed(key));
  }
  parts.push(u32(revoked.length));
  for (const id of revoked) parts.push(lengthPrefixed(enc.encode(id)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const hasRepeat = (sorted: readonly string[]): boolean => sorted.some((v, i) => i > 0 && sorted[i - 1] === v);

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), false);
  return b;
}

function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length, false);
  out.set(bytes, 4);
  return out;
}
