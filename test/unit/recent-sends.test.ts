import { describe, expect, it } from 'vitest';
import { RecentSends } from '../../src/delivery/recent-sends.ts';

describe('recent sends', () => {
  it('answers a retry as pending while the first copy commits, then as done', () => {
    const r = new RecentSends(() => 0);
    expect(r.check('k')).toBe('new');
    const rec = r.begin('k');
    expect(r.check('k')).toBe('pending');
    expect(r.settle(rec, true)).toBe(2);
    expect(r.check('k')).toBe('done');
  });

  it('says whether a send is known without counting it as a retry (the overload check peeks before the handler counts)', () => {
    let now = 0;
    const r = new RecentSends(() => now, 100, 1000);
    expect(r.known('k')).toBe(false);
    const rec = r.begin('k');
    expect([r.known('k'), r.known('k')]).toEqual([true, true]);
    expect(r.check('k')).toBe('pending');
    // One retry counted, not three: the first copy's settlement owes two answers.
    expect(r.settle(rec, true)).toBe(2);
    expect(r.known('k')).toBe(true);
    now = 1001;
    expect(r.known('k')).toBe(false);
  });

  it('forgets a send whose commit failed, so its retry is stored', () => {
    const r = new RecentSends(() => 0);
    const rec = r.begin('k');
    expect(r.settle(rec, false)).toBe(1);
    expect(r.check('k')).toBe('new');
  });

  it('forgets sends older than the ttl', () => {
    let now = 0;
    const r = new RecentSends(() => now, 100, 1000);
    r.settle(r.begin('k'), true);
    now = 1001;
    expect(r.check('k')).toBe('new');
  });

  it('remembers the latest maxEntries sends', () => {
    const r = new RecentSends(() => 0, 10);
    for (let i = 0; i < 1000; i++) {
      r.settle(r.begin(`k${i}`), true);
      expect(r.size).toBe(Math.min(i + 1, 10));
    }
    for (let i = 990; i < 1000; i++) expect(r.check(`k${i}`)).toBe('done');
    expect(r.check('k989')).toBe('new');
    expect(r.check('k0')).toBe('new');
  });

  it('keeps counting retries of a pending send while newer sends come in', () => {
    const r = new RecentSends(() => 0, 4);
    const first = r.begin('first');
    for (const other of ['a', 'b', 'c']) r.begin(other);
    // Still pending: a retry counts, and settling answers both.
    expect(r.check('first')).toBe('pending');
    expect(r.settle(first, true)).toBe(2);
    expect(r.check('first')).toBe('done');
  });

  it('a failed send that already left the map does not forget a newer send of the same id', () => {
    const r = new RecentSends(() => 0, 4);
    const old = r.begin('k');
    for (const other of ['a', 'b', 'c', 'd']) r.begin(other);
    expect(r.check('k')).toBe('new');
    r.begin('k');
    expect(r.settle(old, false)).toBe(1);
    expect(r.check('k')).toBe('pending');
  });
});

describe('generational map', () => {
  it('keeps between half and all of its capacity, the newest keys always, and a rewritten key as newest', async () => {
    const { GenerationalMap } = await import('../../src/util/generational-map.ts');
    const m = new GenerationalMap<string, number>(6);
    for (let i = 0; i < 100; i++) {
      m.set(`k${i}`, i);
      expect(m.size).toBeLessThanOrEqual(6);
      expect(m.get(`k${i}`)).toBe(i);
      if (i >= 2) expect(m.get(`k${i - 2}`)).toBe(i - 2);
    }
    // Rewriting an old key makes it newest: it survives the next rotation.
    m.set('k97', -1);
    m.set('a', 0);
    m.set('b', 0);
    m.set('c', 0);
    expect(m.get('k97')).toBe(-1);
    m.delete('k97');
    expect(m.get('k97')).toBeUndefined();
  });
});
