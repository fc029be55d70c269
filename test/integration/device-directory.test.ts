import type { Kysely, KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/schema.ts';
import { DeviceDirectory } from '../../src/devices/device-directory.ts';
import { backends } from '../helpers/databases.ts';
import { openInProcess } from '../helpers/in-process-db.ts';

/**
 * The cache of a user's approved devices, against a real database: callers
 * that miss it together share one read, and a change dropped from the
 * cache is never put back by a read that started before it.
 */
describe.each(backends)('device directory on %s', (kind) => {
  let db: Kysely<Database>;
  let close: () => Promise<void>;
  /** Reads of the devices table, counted as they are sent. */
  let reads = 0;
  const counting: KyselyPlugin = {
    transformQuery: (args) => {
      if (args.node.kind === 'SelectQueryNode') reads++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  beforeAll(async () => {
    const opened = await openInProcess(kind);
    db = opened.db;
    close = opened.close;
  });
  afterAll(() => close());
  const approve = (user: string, device: string) =>
    db
      .insertInto('devices')
      .values({ user_id: user, device_id: device, created_at: new Date(0), last_seen_at: new Date(0), status: 'approved' })
      .execute();

  it('serves the callers that miss the cache together from one read', async () => {
    await approve('ann', 'a1');
    await approve('ann', 'a2');
    const dir = new DeviceDirectory(db.withPlugin(counting), 5000, Date.now);
    reads = 0;
    const sets = await Promise.all(Array.from({ length: 50 }, () => dir.devicesOf('ann')));
    expect(reads).toBe(1);
    for (const set of sets) expect([...set].sort()).toEqual(['a1', 'a2']);
    // Cached now, and a fresh read still goes to the database.
    expect(dir.cached('ann')).toEqual(new Set(['a1', 'a2']));
    await dir.devicesOf('ann', true);
    expect(reads).toBe(2);
  });

  it('reads anew after an invalidation instead of joining the read under way, and the cache never holds the set from before the change', async () => {
    await approve('ben', 'b1');
    const dir = new DeviceDirectory(db.withPlugin(counting), 5000, Date.now);
    const before = dir.devicesOf('ben');
    // The user's devices change while that read is under way.
    await approve('ben', 'b2');
    dir.invalidate('ben');
    const after = dir.devicesOf('ben');
    expect(after).not.toBe(before);
    expect([...(await after)].sort()).toEqual(['b1', 'b2']);
    await before;
    // Whichever read finished last, the cache holds no set read before the change.
    const cached = dir.cached('ben');
    if (cached) expect([...cached].sort()).toEqual(['b1', 'b2']);
  });
});
