import ipaddr from 'ipaddr.js';

/**
 * Where a connection comes from, when the relay sits behind proxies.
 *
 * The address the socket sees is the last hop. Only when that hop is a
 * configured trusted proxy (TRUSTED_PROXIES) does the relay read the
 * client's address from `Forwarded` (RFC 7239) or, without it,
 * `X-Forwarded-For`; it walks the list from the nearest hop outwards and
 * takes the first address that is not itself a trusted proxy. So a client
 * cannot choose its own address by sending the header: whatever it writes
 * sits to the left of what the trusted proxy appended. An entry that is
 * not an address (`unknown`, an obfuscated `_name`, garbage) ends the walk
 * at the hop before it.
 */
export type TrustedProxies = readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];

/** Parses CIDRs (or bare addresses); throws naming the first bad entry. */
export function parseTrustedProxies(list: readonly string[]): TrustedProxies {
  return list.map((entry) => {
    try {
      if (entry.includes('/')) {
        const [addr, bits] = ipaddr.parseCIDR(entry);
        return [unmapped(addr), addr.kind() === 'ipv6' && unmapped(addr).kind() === 'ipv4' ? bits - 96 : bits] as const;
      }
      const addr = unmapped(ipaddr.parse(entry));
      return [addr, addr.kind() === 'ipv4' ? 32 : 128] as const;
    } catch {
      throw new Error(`TRUSTED_PROXIES: ${JSON.stringify(entry)} is not an address or CIDR`);
    }
  });
}

/** The client's address, as text (IPv4-mapped IPv6 shown as IPv4). */
export function clientAddress(peer: string, headers: { forwarded: string; xForwardedFor: string }, trusted: TrustedProxies): string {
  const hop = parse(peer);
  if (!hop) return peer;
  if (trusted.length === 0 || !isTrusted(hop, trusted)) return hop.toString();
  const chain = headers.forwarded !== '' ? forwardedFor(headers.forwarded) : headers.xForwardedFor.split(',').map((s) => s.trim());
  let client = hop;
  for (let i = chain.length - 1; i >= 0; i--) {
    const next = parse(chain[i]!);
    if (!next) break;
    client = next;
    if (!isTrusted(next, trusted)) break;
  }
  return client.toString();
}

/**
 * The key per-address limits count under: an IPv4 address, or the /64 an
 * IPv6 address belongs to (one subscriber usually holds a whole /64, and
 * can pick any address in it).
 */
export function limitKey(address: string): string {
  const a = parse(address);
  if (!a || a.kind() === 'ipv4') return address;
  const parts = (a as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}

function parse(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  // uWebSockets.js and some proxies give IPv6 in brackets, or IPv4 with a port.
  let t = text.trim();
  if (t.startsWith('[')) t = t.slice(1, t.indexOf(']') > 0 ? t.indexOf(']') : undefined);
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(t)) t = t.slice(0, t.lastIndexOf(':'));
  if (!ipaddr.isValid(t)) return undefined;
  try {
    return unmapped(ipaddr.parse(t));
  } catch {
    return undefined;
  }
}

function unmapped(a: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address() : a;
}

function isTrusted(a: ipaddr.IPv4 | ipaddr.IPv6, trusted: TrustedProxies): boolean {
  return trusted.some(([range, bits]) => range.kind() === a.kind() && a.match(range, bits));
}

/** The `for=` values of a Forwarded header, nearest hop last; an element without one counts as unknown. */
function forwardedFor(header: string): string[] {
  return header.split(',').map((element) => {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === 'for')
        return pair
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, '');
    }
    return 'unknown';
  });
}
