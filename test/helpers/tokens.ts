import { SignJWT } from 'jose';

export const TEST_SECRET = 'test-secret-for-the-relay-suite-0123456789abcdef';
const key = new TextEncoder().encode(TEST_SECRET);

/** An HS256 token the relay started with JWT_SECRET=TEST_SECRET accepts; `claims` overrides any part. */
export async function token(user: string, device: string, opts: { ttlSeconds?: number; claims?: Record<string, unknown>; header?: Record<string, unknown> } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: user, did: device, iat: now, exp: now + (opts.ttlSeconds ?? 3600), ...opts.claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...opts.header }).sign(key);
}
