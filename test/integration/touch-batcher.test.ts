import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/schema.ts';
import { DeviceDirectory } from '../../src/devices/device-directory.ts';
import { TouchBatcher } from '../../src/devices/touch-batcher.ts';
import { backends } from '../helpers/databases.ts';
import { openInProcess } from '../helpers/in-process-db.ts';

describe.each(backends)('device touches on %s', (kind) => {
  let db: Kysely<Database>;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ db, close } = await openInProcess(kind));
  });
  afterAll(async () => close());

  it('writes one turn of touches in one statement, creates new devices and returns each status', async () => {
    await db
      .insertInto('devices')
      .values({ user_id: 'a', device_id: 'd1', created_at: new Date(0), last_seen_at: new Date(0), status: 'approved' })
      .execute();
    const now = Date.parse('2026-01-02T03:04:05Z');
    const statements: string[] = [];
    const counting = db.withPlugin({
      transformQuery: (args) => {
        statements.push(args.node.kind);
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    const t = new TouchBatcher(counting, 5000, () => now);
    const results = await Promise.all([t.touch('a', 'd1'), t.touch('b', 'd1'), t.touch('a', 'd1'), t.touch('c', 'd9')]);
    expect(results).toEqual(['approved', 'unregistered', 'approved', 'unregistered']);
    expect(statements).toHaveLength(1);
    const rows = await db.selectFrom('devices').select(['user_id', 'device_id', 'last_seen_at']).orderBy('user_id').execute();
    expect(rows.map((r) => [r.user_id, r.device_id, new Date(r.last_seen_at).getTime()])).toEqual([
      ['a', 'd1', now],
      ['b', 'd1', now],
      ['c', 'd9', now],
    ]);
  });

  it('splits at batchMax', async () => {
    const t = new TouchBatcher(db, 5000, () => Date.now(), { batchMax: 3 });
    const results = await Promise.all(Array.from({ length: 7 }, (_, i) => t.touch('split', `d${i}`)));
    expect(results).toEqual(Array.from({ length: 7 }, () => 'unregistered'));
    expect(await db.selectFrom('devices').select('device_id').where('user_id', '=', 'split').execute()).toHaveLength(7);
  });

  it('writes new device ids of a user only while its unregistered rows are under the cap', async () => {
    await db
      .insertInto('devices')
      .values([
        { user_id: 'cap', device_id: 'old', created_at: new Date(0), last_seen_at: new Date(0), status: 'unregistered' },
        { user_id: 'cap', device_id: 'ok', created_at: new Date(0), last_seen_at: new Date(0), status: 'approved' },
      ])
      .execute();
    const t = new TouchBatcher(db, 5000, () => Date.now(), { maxUnregistered: 3 });
    // One batch: the known devices pass; of the new ids, the two that fit beside 'old' are written, in batch order.
    const results = await Promise.all([t.touch('cap', 'n1'), t.touch('cap', 'ok'), t.touch('cap', 'n2'), t.touch('cap', 'n3'), t.touch('cap', 'old'), t.touch('other', 'n1')]);
    expect(results).toEqual(['unregistered', 'approved', 'unregistered', 'too_many_unregistered', 'unregistered', 'unregistered']);
    const rows = await db.selectFrom('devices').select('device_id').where('user_id', '=', 'cap').orderBy('device_id').execute();
    expect(rows.map((r) => r.device_id)).toEqual(['n1', 'n2', 'ok', 'old']);
    expect(await t.touch('cap', 'n3')).toBe('too_many_unregistered');
  });

  it('prunes unregistered rows unseen since the cutoff, and nothing else', async () => {
    const at = (ms: number) => new Date(ms);
    await db
      .insertInto('devices')
      .values([
        { user_id: 'prune', device_id: 'stale', created_at: at(0), last_seen_at: at(1000), status: 'unregistered' },
        { user_id: 'prune', device_id: 'recent', created_at: at(0), last_seen_at: at(5000), status: 'unregistered' },
        { user_id: 'prune', device_id: 'pending', created_at: at(0), last_seen_at: at(1000), status: 'pending' },
        { user_id: 'prune', device_id: 'approved', created_at: at(0), last_seen_at: at(1000), status: 'approved' },
      ])
      .execute();
    const dir = new DeviceDirectory(db, 5000, Date.now);
    expect(await dir.pruneUnregistered(at(2000))).toBe(1);
    const rows = await db.selectFrom('devices').select('device_id').where('user_id', '=', 'prune').orderBy('device_id').execute();
    expect(rows.map((r) => r.device_id)).toEqual(['approved', 'pending', 'recent']);
  });

  it('fails every caller of a batch that fails', async () => {
    const broken = db.withPlugin({
      transformQuery: () => {
        throw new Error('database gone');
      },
      transformResult: async (args) => args.result,
    });
    const t = new TouchBatcher(broken, 5000, () => Date.now());
    const results = await Promise.allSettled([t.touch('x', 'd1'), t.touch('y', 'd1')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
