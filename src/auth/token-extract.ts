/**
 * Finds the bearer token in an upgrade request. Three carriers, because each
 * client platform can use a different one: the Authorization header (native
 * apps), `Sec-WebSocket-Protocol: bearer, TOKEN` (browsers, which cannot set
 * headers on a WebSocket) and `?token=` (last resort; it ends up in access
 * logs, so the header forms are preferred).
 */
export interface UpgradeCredentials {
  authorization: string;
  protocol: string;
  query: string;
}

export type ExtractResult =
  | { ok: true; token: string; carrier: 'header' | 'subprotocol' | 'query'; subprotocol: string | undefined }
  | { ok: false; reason: 'missing' | 'too_large' | 'malformed' };

export function extractToken(c: UpgradeCredentials, maxBytes: number): ExtractResult {
  let token: string | undefined;
  let carrier: 'header' | 'subprotocol' | 'query' = 'header';
  let subprotocol: string | undefined;

  if (c.authorization) {
    const m = /^Bearer[ ]+(\S+)$/i.exec(c.authorization.trim());
    if (!m) return { ok: false, reason: 'malformed' };
    token = m[1];
  } else if (c.protocol) {
    const parts = c.protocol.split(',').map((p) => p.trim());
    const at = parts.findIndex((p) => p.toLowerCase() === 'bearer');
    if (at === -1 || !parts[at + 1]) return { ok: false, reason: 'malformed' };
    token = parts[at + 1];
    carrier = 'subprotocol';
    subprotocol = parts[at];
  } else if (c.query) {
    token = new URLSearchParams(c.query).get('token') ?? undefined;
    carrier = 'query';
  }
  if (!token) return { ok: false, reason: 'missing' };
  if (token.length > maxBytes) return { ok: false, reason: 'too_large' };
  return { ok: true, token, carrier, subprotocol };
}
