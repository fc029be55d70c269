import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/schema.ts';
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
    await db.insertInto('devices').values({ user_id: 'a', device_id: 'd1', created_at: new Date(0), last_seen_at: new Date(0), status: 'approved' }).execute();
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
    const t = new TouchBatcher(db, 5000, () => Date.now(), 3);
    const results = await Promise.all(Array.from({ length: 7 }, (_, i) => t.touch('split', `d${i}`)));
    expect(results).toEqual(Array.from({ length: 7 }, () => 'unregistered'));
    expect(await db.selectFrom('devices').select('device_id').where('user_id', '=', 'split').execute()).toHaveLength(7);
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
