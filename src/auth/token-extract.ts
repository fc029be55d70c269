/**
 * Finds the bearer token in an upgrade request. Four carriers, because each
 * client platform can use a different one: the Authorization header (native
 * apps), `Sec-WebSocket-Protocol: bearer, TOKEN` (browsers, which cannot set
 * headers on a WebSocket), `?token=` (last resort; it ends up in access
 * logs) and a cookie (browser apps whose auth service sets an HttpOnly
 * cookie, so page scripts never hold the token).
 *
 * A browser attaches a cookie to any page's socket, including a hostile
 * site's, so the cookie counts only when the request's Origin is on the
 * configured allow-list (`originAllowed`); other carriers must be put in
 * place by the page itself and need no such check.
 */
export interface UpgradeCredentials {
  authorization: string;
  protocol: string;
  query: string;
  cookie: string;
}

export interface ExtractOptions {
  maxBytes: number;
  /** The cookie that may carry the token; undefined turns the carrier off. */
  cookieName: string | undefined;
  /** The request has an Origin that ALLOWED_ORIGINS lists. */
  originAllowed: boolean;
}

export type Carrier = 'header' | 'subprotocol' | 'query' | 'cookie';

export type ExtractResult =
  | { ok: true; token: string; carrier: Carrier; subprotocol: string | undefined }
  | { ok: false; reason: 'missing' | 'too_large' | 'malformed' | 'cookie_without_allowed_origin' };

export function extractToken(c: UpgradeCredentials, o: ExtractOptions): ExtractResult {
  let token: string | undefined;
  let carrier: Carrier = 'header';
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
  } else if (c.query && new URLSearchParams(c.query).has('token')) {
    token = new URLSearchParams(c.query).get('token') ?? undefined;
    carrier = 'query';
  } else if (o.cookieName && c.cookie) {
    token = cookieValue(c.cookie, o.cookieName);
    carrier = 'cookie';
    if (token && !o.originAllowed) return { ok: false, reason: 'cookie_without_allowed_origin' };
  }
  if (!token) return { ok: false, reason: 'missing' };
  if (token.length > o.maxBytes) return { ok: false, reason: 'too_large' };
  return { ok: true, token, carrier, subprotocol };
}

/** The value of one cookie in a Cookie header (RFC 6265 section 5.4: `name=value` pairs joined by `; `), unquoted. */
export function cookieValue(header: string, name: string): string | undefined {
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    const value = pair.slice(eq + 1).trim();
    return (value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value) || undefined;
  }
  return undefined;
}
