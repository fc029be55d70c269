import { describe, expect, it } from 'vitest';
import { extractToken } from '../../src/auth/token-extract.ts';

const none = { authorization: '', protocol: '', query: '' };

describe('extractToken', () => {
  it('reads each carrier', () => {
    expect(extractToken({ ...none, authorization: 'Bearer abc' }, 100)).toMatchObject({ ok: true, token: 'abc', carrier: 'header' });
    expect(extractToken({ ...none, protocol: 'bearer, abc' }, 100)).toMatchObject({ ok: true, token: 'abc', carrier: 'subprotocol', subprotocol: 'bearer' });
    expect(extractToken({ ...none, query: 'x=1&token=abc' }, 100)).toMatchObject({ ok: true, token: 'abc', carrier: 'query' });
  });
  it('refuses malformed, missing and oversized tokens', () => {
    expect(extractToken({ ...none, authorization: 'Basic abc' }, 100)).toEqual({ ok: false, reason: 'malformed' });
    expect(extractToken({ ...none, protocol: 'chat' }, 100)).toEqual({ ok: false, reason: 'malformed' });
    expect(extractToken(none, 100)).toEqual({ ok: false, reason: 'missing' });
    expect(extractToken({ ...none, authorization: `Bearer ${'x'.repeat(101)}` }, 100)).toEqual({ ok: false, reason: 'too_large' });
  });
});
