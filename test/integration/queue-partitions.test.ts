import { Migrator, sql, type Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrationProvider } from '../../migrations/index.ts';
import { QUEUE_PARTITIONS } from '../../migrations/2026-12-07-0007-queue-partitions.ts';
import type { Database } from '../../src/db/schema.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { PostgresQueueStore } from '../../src/delivery/postgres-queue-store.ts';
import { backends } from '../helpers/databases.ts';
import { testEntry } from '../helpers/entries.ts';
import { openInProcess } from '../helpers/in-process-db.ts';

/**
 * The migration that partitions the queue, on a deployment that already
 * has messages waiting: every row keeps its place and `seq`, the sequence
 * carries on, and the store works on the new table as on the old.
 */
const migrateTo = async (db: Kysely<Database>, name: string) => {
  const r = await new Migrator({ db, provider: migrationProvider, migrationTableName: 'relay_migrations', migrationLockTableName: 'relay_migrations_lock' }).migrateTo(name);
  if (r.error) throw r.error;
};

describe.each(backends)('queue partitioning on an existing queue: %s', (kind) => {
  it('keeps every waiting row and its seq, continues the sequence, and spreads devices over the partitions', async () => {
    const { db, close } = await openInProcess(kind, { migrate: false });
    try {
      await migrateTo(db, '2026-12-06-0006-push-targets');
      const store = new PostgresQueueStore(db, 5000);
      const devices = Array.from({ length: 40 }, (_, i) => `d${i}`);
      const old = new Date(Date.now() - 40 * 86_400_000);
      await store.commit(
        devices.flatMap((d) => [testEntry('u', d, { key: `${d}-a`, createdAt: old }), testEntry('u', d, { key: `${d}-b` })]),
        [],
      );
      const before = await Promise.all(devices.map((d) => store.readBacklog('u', d, '0', 10)));

      await migrateToLatest(db);

      const after = await Promise.all(devices.map((d) => store.readBacklog('u', d, '0', 10)));
      expect(after.map((rows) => rows.map((r) => [r.seq, r.entry.dedupKey, r.entry.frame]))).toEqual(before.map((rows) => rows.map((r) => [r.seq, r.entry.dedupKey, r.entry.frame])));
      const parts = await sql<{ n: number; used: number }>`
        select count(*)::int as n, count(*) filter (where (select count(*) from queue q where q.tableoid = i.inhrelid) > 0)::int as used
        from pg_inherits i where i.inhparent = 'queue'::regclass`.execute(db);
      expect(parts.rows[0]!.n).toBe(QUEUE_PARTITIONS);
      expect(parts.rows[0]!.used).toBeGreaterThan(QUEUE_PARTITIONS / 2);
      // New rows continue the sequence; a retried dedup key is still refused; deletes and the sweep find their rows.
      const maxBefore = Math.max(...before.flat().map((r) => Number(r.seq)));
      await store.commit([testEntry('u', 'd0', { key: 'd0-c' }), testEntry('u', 'd0', { key: 'd0-a' })], [{ recipientUser: 'u', recipientDevice: 'd1', dedupKey: 'd1-b' }]);
      const d0 = await store.readBacklog('u', 'd0', '0', 10);
      expect(d0.map((r) => r.entry.dedupKey)).toEqual(['d0-a', 'd0-b', 'd0-c']);
      expect(Number(d0.at(-1)!.seq)).toBeGreaterThan(maxBefore);
      expect((await store.readBacklog('u', 'd1', '0', 10)).map((r) => r.entry.dedupKey)).toEqual(['d1-a']);
      expect(await store.sweep(new Date(Date.now() - 30 * 86_400_000), 1000)).toBe(devices.length);
      expect((await store.readBacklog('u', 'd1', '0', 10)).length).toBe(0);
    } finally {
      await close();
    }
  });

  it('goes back to one table with its rows when migrated down', async () => {
    const { db, close } = await openInProcess(kind);
    try {
      const store = new PostgresQueueStore(db, 5000);
      await store.commit([testEntry('u', 'x', { key: 'k1' }), testEntry('u', 'y', { key: 'k2' })], []);
      await migrateTo(db, '2026-12-06-0006-push-targets');
      const kindOf = await sql<{ relkind: string }>`select relkind from pg_class where oid = 'queue'::regclass`.execute(db);
      expect(kindOf.rows[0]!.relkind).toBe('r');
      expect((await store.readBacklog('u', 'x', '0', 10)).map((r) => r.entry.dedupKey)).toEqual(['k1']);
      await store.commit([testEntry('u', 'x', { key: 'k1' })], []);
      expect((await store.readBacklog('u', 'x', '0', 10)).length).toBe(1);
    } finally {
      await close();
    }
  });
});
