import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Checks an `Authorization: Bearer <token>` header against the admin token
 * in constant time: both sides are hashed first, so neither the length nor
 * a prefix of the token leaks through timing.
 */
export function adminTokenCheck(token: string): (header: string | undefined) => boolean {
  const want = digest(token);
  return (header) => {
    const m = header === undefined ? null : /^Bearer ([^\s]+)$/.exec(header);
    return m !== null && timingSafeEqual(digest(m[1]!), want);
  };
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
