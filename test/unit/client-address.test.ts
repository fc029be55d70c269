import { describe, expect, it } from 'vitest';
import { clientAddress, limitKey, parseTrustedProxies } from '../../src/transport/client-address.ts';

describe('clientAddress', () => {
  const trusted = parseTrustedProxies(['10.0.0.0/8', '2001:db8:ffff::/48', '192.0.2.7']);
  const none = { forwarded: '', xForwardedFor: '' };
  const xff = (v: string) => ({ forwarded: '', xForwardedFor: v });

  it('uses the socket address when no proxy is trusted, or the peer is not one, whatever the headers say', () => {
    expect(clientAddress('203.0.113.9', xff('198.51.100.1'), parseTrustedProxies([]))).toBe('203.0.113.9');
    expect(clientAddress('203.0.113.9', xff('198.51.100.1'), trusted)).toBe('203.0.113.9');
    expect(clientAddress('203.0.113.9', none, trusted)).toBe('203.0.113.9');
  });

  it('takes the nearest untrusted hop from X-Forwarded-For, so a client cannot pick its own address', () => {
    expect(clientAddress('10.1.2.3', xff('198.51.100.1'), trusted)).toBe('198.51.100.1');
    // The client wrote "1.1.1.1" itself; nginx appended the address it saw.
    expect(clientAddress('10.1.2.3', xff('1.1.1.1, 198.51.100.1'), trusted)).toBe('198.51.100.1');
    // Two trusted proxies in a row.
    expect(clientAddress('10.1.2.3', xff('198.51.100.1, 192.0.2.7'), trusted)).toBe('198.51.100.1');
    // Garbage ends the walk at the hop before it.
    expect(clientAddress('10.1.2.3', xff('198.51.100.1, nonsense, 10.9.9.9'), trusted)).toBe('10.9.9.9');
    // A trusted proxy with no header: the proxy itself.
    expect(clientAddress('10.1.2.3', none, trusted)).toBe('10.1.2.3');
  });

  it('prefers Forwarded, with quoted, bracketed and ported IPv6', () => {
    const h = { forwarded: 'for=1.1.1.1, for="[2001:db8:1::5]:4711";proto=https', xForwardedFor: '198.51.100.1' };
    expect(clientAddress('10.0.0.1', h, trusted)).toBe('2001:db8:1::5');
    expect(clientAddress('10.0.0.1', { forwarded: 'for=unknown', xForwardedFor: '' }, trusted)).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', { forwarded: 'for=198.51.100.2:80', xForwardedFor: '' }, trusted)).toBe('198.51.100.2');
  });

  it('reads IPv4-mapped IPv6 peers as IPv4', () => {
    expect(clientAddress('::ffff:10.0.0.1', xff('198.51.100.1'), trusted)).toBe('198.51.100.1');
    expect(clientAddress('0000:0000:0000:0000:0000:ffff:cb00:7109', none, trusted)).toBe('203.0.113.9');
  });

  it('refuses a bad TRUSTED_PROXIES entry by name', () => {
    expect(() => parseTrustedProxies(['10.0.0.0/8', 'proxy.local'])).toThrow(/proxy\.local/);
  });
});

describe('limitKey', () => {
  it('groups IPv6 by /64 and keeps IPv4 whole', () => {
    expect(limitKey('2001:db8:1:2::1')).toBe(limitKey('2001:db8:1:2:ffff::9'));
    expect(limitKey('2001:db8:1:2::1')).not.toBe(limitKey('2001:db8:1:3::1'));
    expect(limitKey('203.0.113.9')).toBe('203.0.113.9');
  });
});
