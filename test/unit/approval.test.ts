import { describe, expect, it } from 'vitest';
import { codeMatches, generateCode, hashCode } from '../../src/devices/approval-code.ts';
import { APPROVAL_CONTEXT, approvalMessage, decodeIdentityKey } from '../../src/protocol/approval-message.ts';
import { decideApproval, decideRegistration, isFinal, mayRevoke, type ApprovalInput } from '../../src/devices/approval-rules.ts';
import { windowVerdict } from '../../src/limits/fixed-window.ts';

describe('approval message encoding', () => {
  it('is the context followed by length-prefixed fields, big-endian', () => {
    const key = new Uint8Array(32).fill(7);
    const msg = approvalMessage('u1', 'dev', key, 'r');
    const ctx = Buffer.from(APPROVAL_CONTEXT);
    const expected = Buffer.concat([
      ctx,
      Buffer.from([0, 0, 0, 2]),
      Buffer.from('u1'),
      Buffer.from([0, 0, 0, 3]),
      Buffer.from('dev'),
      Buffer.from([0, 0, 0, 32]),
      Buffer.from(key),
      Buffer.from([0, 0, 0, 1]),
      Buffer.from('r'),
    ]);
    expect(Buffer.from(msg).equals(expected)).toBe(true);
  });

  it('never gives two field lists the same bytes', () => {
    const key = new Uint8Array(32);
    const a = Buffer.from(approvalMessage('ab', 'c', key, 'r'));
    const b = Buffer.from(approvalMessage('a', 'bc', key, 'r'));
    expect(a.equals(b)).toBe(false);
  });

  it('encodes ids as UTF-8', () => {
    const msg = Buffer.from(approvalMessage('é', 'd', new Uint8Array(32), 'r'));
    expect(msg.readUInt32BE(APPROVAL_CONTEXT.length)).toBe(2);
  });

  it('accepts only canonical base64 of exactly 32 bytes as an identity key', () => {
    expect(decodeIdentityKey(Buffer.alloc(32, 1).toString('base64'))).toHaveLength(32);
    expect(decodeIdentityKey(Buffer.alloc(31, 1).toString('base64'))).toBeUndefined();
    expect(decodeIdentityKey('not base64 at all, not at all, not at all!!!')).toBeUndefined();
  });
});

describe('approval codes', () => {
  it('pads to six digits across the whole range', () => {
    expect(generateCode(() => 0)).toBe('000000');
    expect(generateCode(() => 42)).toBe('000042');
    expect(generateCode(() => 999_999)).toBe('999999');
  });

  it('asks the generator for the full range [0, 10^6)', () => {
    let asked = 0;
    generateCode((max) => {
      asked = max;
      return 0;
    });
    expect(asked).toBe(1_000_000);
  });

  it('draws every digit position close to uniformly (CSPRNG, 200k codes)', () => {
    const n = 200_000;
    const counts = Array.from({ length: 6 }, () => new Array<number>(10).fill(0));
    for (let i = 0; i < n; i++) {
      const c = generateCode();
      expect(c).toMatch(/^[0-9]{6}$/);
      for (let p = 0; p < 6; p++) counts[p]![Number(c[p])]!++;
    }
    // Chi-square with 9 degrees of freedom; 45 is about the 1e-6 critical value, so an honest generator
    // fails this once in ~170 000 runs, while a byte-modulo bias (digits 0-5 at 26/256) scores about 80 here.
    for (const row of counts) {
      const chi = row.reduce((s, o) => s + (o - n / 10) ** 2 / (n / 10), 0);
      expect(chi).toBeLessThan(45);
    }
  });

  it('binds the hash to the request id and compares in constant time', () => {
    const h = hashCode('req_1', '123456');
    expect(codeMatches('req_1', '123456', h)).toBe(true);
    expect(codeMatches('req_2', '123456', h)).toBe(false);
    expect(codeMatches('req_1', '123457', h)).toBe(false);
    expect(codeMatches('req_1', '123456', 'abcd')).toBe(false);
  });
});

describe('approval decisions', () => {
  const base: ApprovalInput = {
    request: { userId: 'u', status: 'pending', expiresAt: 1000, attempts: 0 },
    approver: { userId: 'u', status: 'approved', isPrimary: true },
    now: 500,
    codeOk: true,
    signatureOk: true,
    approvedCount: 1,
    maxDevices: 3,
    maxAttempts: 3,
  };

  it('approves when every condition holds', () => {
    expect(decideApproval(base)).toEqual({ kind: 'approve' });
  });

  it.each([
    ['no request', { request: undefined }, 'not_found'],
    ['a request of another user', { approver: { userId: 'v', status: 'approved' as const, isPrimary: true } }, 'not_found'],
    ['a non-primary approver', { approver: { userId: 'u', status: 'approved' as const, isPrimary: false } }, 'not_primary'],
    ['a pending approver', { approver: { userId: 'u', status: 'pending' as const, isPrimary: true } }, 'not_primary'],
    ['a decided request (replay)', { request: { userId: 'u', status: 'approved' as const, expiresAt: 1000, attempts: 0 } }, 'not_pending'],
    ['an expired request', { now: 1000 }, 'expired'],
    ['a request the sweep already expired', { request: { userId: 'u', status: 'expired' as const, expiresAt: 1000, attempts: 0 } }, 'expired'],
    ['a bad signature', { signatureOk: false }, 'bad_signature'],
    ['a full device list', { approvedCount: 3 }, 'device_limit'],
  ])('refuses %s', (_n, over, kind) => {
    expect(decideApproval({ ...base, ...over }).kind).toBe(kind);
  });

  it('says expired whether the request is past its deadline or was already closed as expired', () => {
    expect(decideApproval({ ...base, now: 1000 })).toEqual({ kind: 'expired', closed: false });
    expect(decideApproval({ ...base, request: { ...base.request!, status: 'expired' } })).toEqual({ kind: 'expired', closed: true });
  });

  it('counts wrong codes and denies on the last attempt', () => {
    expect(decideApproval({ ...base, codeOk: false })).toEqual({ kind: 'wrong_code', attemptsLeft: 2, deny: false });
    expect(decideApproval({ ...base, codeOk: false, request: { ...base.request!, attempts: 2 } })).toEqual({ kind: 'wrong_code', attemptsLeft: 0, deny: true });
  });

  it('checks the code before the signature, so a guesser learns nothing from signatures', () => {
    expect(decideApproval({ ...base, codeOk: false, signatureOk: false }).kind).toBe('wrong_code');
  });

  it('registers the first device as primary and later ones as pending, within the cap', () => {
    expect(decideRegistration('unregistered', 0, 3)).toEqual({ kind: 'primary' });
    expect(decideRegistration('unregistered', 1, 3)).toEqual({ kind: 'pending' });
    expect(decideRegistration('pending', 1, 3)).toEqual({ kind: 'pending' });
    expect(decideRegistration('unregistered', 3, 3)).toEqual({ kind: 'device_limit' });
    expect(decideRegistration('approved', 1, 3)).toEqual({ kind: 'already_registered' });
    expect(decideRegistration('revoked', 1, 3)).toEqual({ kind: 'forbidden' });
    expect(decideRegistration('denied', 1, 3)).toEqual({ kind: 'forbidden' });
  });

  it('lets a primary revoke any device of its user, and a device revoke itself', () => {
    const primary = { userId: 'u', deviceId: 'p', status: 'approved' as const, isPrimary: true };
    const other = { userId: 'u', deviceId: 'o', status: 'approved' as const, isPrimary: false };
    expect(mayRevoke(primary, { userId: 'u', deviceId: 'o', status: 'approved' })).toBe(true);
    expect(mayRevoke(other, { userId: 'u', deviceId: 'o', status: 'approved' })).toBe(true);
    expect(mayRevoke(other, { userId: 'u', deviceId: 'p', status: 'approved' })).toBe(false);
    expect(mayRevoke(primary, { userId: 'v', deviceId: 'x', status: 'approved' })).toBe(false);
    expect(mayRevoke(primary, { userId: 'u', deviceId: 'o', status: 'revoked' })).toBe(false);
    expect(isFinal('revoked') && isFinal('denied') && !isFinal('pending')).toBe(true);
  });
});

describe('fixed window verdict', () => {
  it('allows up to the limit and says when to retry after it', () => {
    expect(windowVerdict(5, 0, 100, 60_000, 5)).toEqual({ allowed: true, retryAfterSeconds: 0 });
    expect(windowVerdict(6, 0, 30_000, 60_000, 5)).toEqual({ allowed: false, retryAfterSeconds: 30 });
    expect(windowVerdict(6, 0, 59_999, 60_000, 5)).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });
});
