import { describe, expect, it } from 'vitest';
import { cookieValue, extractToken } from '../../src/auth/token-extract.ts';

const none = { authorization: '', protocol: '', query: '', cookie: '' };
const opts = { maxBytes: 100, cookieName: 'relay_token', originAllowed: true };

describe('extractToken', () => {
  it('reads each carrier', () => {
    expect(extractToken({ ...none, authorization: 'Bearer abc' }, opts)).toMatchObject({ ok: true, token: 'abc', carrier: 'header' });
    expect(extractToken({ ...none, protocol: 'bearer, abc' }, opts)).toMatchObject({ ok: true, token: 'abc', carrier: 'subprotocol', subprotocol: 'bearer' });
    expect(extractToken({ ...none, query: 'x=1&token=abc' }, opts)).toMatchObject({ ok: true, token: 'abc', carrier: 'query' });
    expect(extractToken({ ...none, cookie: 'theme=dark; relay_token=abc' }, opts)).toMatchObject({ ok: true, token: 'abc', carrier: 'cookie' });
  });
  it('refuses malformed, missing and oversized tokens', () => {
    expect(extractToken({ ...none, authorization: 'Basic abc' }, opts)).toEqual({ ok: false, reason: 'malformed' });
    expect(extractToken({ ...none, protocol: 'chat' }, opts)).toEqual({ ok: false, reason: 'malformed' });
    expect(extractToken(none, opts)).toEqual({ ok: false, reason: 'missing' });
    expect(extractToken({ ...none, authorization: `Bearer ${'x'.repeat(101)}` }, opts)).toEqual({ ok: false, reason: 'too_large' });
  });
  it('takes a cookie only from an allowed origin, only by its name, and after the other carriers', () => {
    expect(extractToken({ ...none, cookie: 'relay_token=abc' }, { ...opts, originAllowed: false })).toEqual({ ok: false, reason: 'cookie_without_allowed_origin' });
    expect(extractToken({ ...none, cookie: 'other=abc' }, opts)).toEqual({ ok: false, reason: 'missing' });
    expect(extractToken({ ...none, cookie: 'relay_token=abc' }, { ...opts, cookieName: undefined })).toEqual({ ok: false, reason: 'missing' });
    expect(extractToken({ ...none, authorization: 'Bearer hdr', cookie: 'relay_token=abc' }, { ...opts, originAllowed: false })).toMatchObject({ ok: true, token: 'hdr', carrier: 'header' });
  });
  it('parses cookie headers', () => {
    expect(cookieValue('a=1; relay_token="x.y.z"; b=2', 'relay_token')).toBe('x.y.z');
    expect(cookieValue('relay_token_old=1;relay_token=2', 'relay_token')).toBe('2');
    expect(cookieValue('relay_token=', 'relay_token')).toBeUndefined();
    expect(cookieValue('garbage', 'relay_token')).toBeUndefined();
  });
});
