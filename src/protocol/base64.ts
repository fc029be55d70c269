/**
 * Standard base64 (RFC 4648 section 4, with padding) for the wire, without
 * Node's Buffer: the client SDK shares this file and runs in browsers.
 * Decoding accepts only the canonical form, so one value has one encoding.
 */

export function encodeBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Undefined for anything but canonical padded standard base64. */
export function decodeBase64(b64: string): Uint8Array | undefined {
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    return undefined;
  }
  const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return encodeBase64(out) === b64 ? out : undefined;
}

/** As decodeBase64, and undefined unless the bytes are exactly `length` long. */
export function decodeBase64Exact(b64: string, length: number): Uint8Array | undefined {
  const out = decodeBase64(b64);
  return out?.length === length ? out : undefined;
}
