import { createHash, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * The 6-digit code a new device shows and the user types on the primary.
 * randomInt draws from the CSPRNG with rejection sampling, so every code in
 * 000000-999999 is equally likely. Only a hash is stored, and the hash
 * covers the request id, so a code is good for its own request only.
 */
export const CODE_DIGITS = 6;

export function generateCode(draw: (max: number) => number = (max) => randomInt(0, max)): string {
  return String(draw(10 ** CODE_DIGITS)).padStart(CODE_DIGITS, '0');
}

export function hashCode(requestId: string, code: string): string {
  return createHash('sha256').update(`${requestId}\u0000${code}`).digest('hex');
}

/** Constant-time comparison of a typed code against the stored hash. */
export function codeMatches(requestId: string, typed: string, storedHash: string): boolean {
  const a = Buffer.from(hashCode(requestId, typed), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
