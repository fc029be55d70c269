/**
 * When to renew an access token on an open socket. The relay closes a
 * socket with 4401 at its token's `exp`; a client with a token provider
 * sends `token_refresh` before then and keeps the connection.
 *
 * The SDK reads `exp` from the token without verifying it (the relay
 * verifies; the client only needs the time).
 */

/** The token's `exp` in epoch ms, or undefined when it has none or is not a JWT. */
export function tokenExpiresAt(jwt: string): number | undefined {
  const part = jwt.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const json = atob(
      part
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(part.length / 4) * 4, '='),
    );
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How long from `now` until the refresh is due: a fifth of the time left,
 * at most a minute, before `exp`; at once when that is past.
 */
export function refreshDelay(expiresAt: number, now: number): number {
  const left = expiresAt - now;
  return Math.max(0, left - Math.min(60_000, left / 5));
}
