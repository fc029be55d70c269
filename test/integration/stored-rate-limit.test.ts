import { describe, expect, it } from 'vitest';
import { StoredRateLimit } from '../../src/limits/stored-rate-limit.ts';
import { backends } from '../helpers/databases.ts';
import { openInProcess } from '../helpers/in-process-db.ts';

describe.each(backends)('stored rate limit on %s', (kind) => {
  it('counts hits per key in fixed windows, and the worst key decides', async () => {
    const { db, close } = await openInProcess(kind);
    try {
      const limit = new StoredRateLimit(db, 5000);
      const rule = { limit: 2, windowMs: 60_000 };
      const t0 = 1_700_000_000_000;
      const verdicts = [];
      for (let i = 0; i < 3; i++) verdicts.push(await limit.hit([{ key: 'k', rule }], t0 + i));
      expect(verdicts.map((v) => v.allowed)).toEqual([true, true, false]);
      expect(verdicts[2]!.retryAfterSeconds).toBe(60);
      // A new window starts afresh; another key is independent until it joins the same hit.
      expect((await limit.hit([{ key: 'k', rule }], t0 + 60_001)).allowed).toBe(true);
      expect((await limit.hit([{ key: 'other', rule }], t0)).allowed).toBe(true);
      expect(
        (
          await limit.hit(
            [
              { key: 'other', rule: { limit: 10, windowMs: 60_000 } },
              { key: 'k', rule },
            ],
            t0 + 60_002,
          )
        ).allowed,
      ).toBe(true);
      expect(
        (
          await limit.hit(
            [
              { key: 'other', rule: { limit: 10, windowMs: 60_000 } },
              { key: 'k', rule },
            ],
            t0 + 60_003,
          )
        ).allowed,
      ).toBe(false);
    } finally {
      await close();
    }
  });

  it('fails closed when the database cannot answer', async () => {
    const { db, close } = await openInProcess(kind);
    const limit = new StoredRateLimit(db, 5000);
    await close();
    expect(await limit.hit([{ key: 'k', rule: { limit: 100, windowMs: 1000 } }], Date.now())).toMatchObject({ allowed: false });
  });
});
