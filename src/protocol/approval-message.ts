import { decodeBase64Exact } from './base64.ts';

/**
 * The exact bytes a primary device signs to approve a new device:
 *
 *   "relay/device-approval/v1"
 *   || len(user id)  || user id (UTF-8)
 *   || len(device id) || new device id (UTF-8)
 *   || len(key)      || new identity key (32 raw bytes)
 *   || len(request)  || request id (UTF-8)
 *
 * where each len is 4 bytes, big-endian. Length prefixes make the encoding
 * unambiguous (no two field lists give the same bytes), and the request id
 * binds a signature to one approval, so it cannot be replayed for another.
 * Clients build the same bytes to verify a device list themselves; this
 * file is shared with the client SDK, so it uses no Node-only API.
 */
export const APPROVAL_CONTEXT = 'relay/device-approval/v1';

export function approvalMessage(userId: string, deviceId: string, identityKey: Uint8Array, requestId: string): Uint8Array {
  const enc = new TextEncoder();
  const fields = [enc.encode(userId), enc.encode(deviceId), identityKey, enc.encode(requestId)];
  const context = enc.encode(APPROVAL_CONTEXT);
  const out = new Uint8Array(context.length + fields.reduce((n, f) => n + 4 + f.length, 0));
  out.set(context, 0);
  let at = context.length;
  const view = new DataView(out.buffer);
  for (const f of fields) {
    view.setUint32(at, f.length, false);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

/** Decodes a base64 Ed25519 public key; undefined unless it is exactly 32 bytes in canonical base64. */
export const decodeIdentityKey = (b64: string): Uint8Array | undefined => decodeBase64Exact(b64, 32);
