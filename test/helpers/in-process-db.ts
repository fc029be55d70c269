import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import { afterAll, beforeAll } from 'vitest';
import pg from 'pg';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { PGliteDialect } from '../../src/db/pglite-dialect.ts';
import { MemoryQueueStore } from '../../src/delivery/memory-queue-store.ts';
import { PostgresQueueStore } from '../../src/delivery/postgres-queue-store.ts';
import type { QueueStore } from '../../src/delivery/queue-store.ts';
import type { Database } from '../../src/db/schema.ts';
import { createTestDatabase } from './databases.ts';

/** A migrated Kysely in this process: in-memory PGlite, or a fresh database on the Postgres server. */
export async function openInProcess(kind: 'pglite' | 'postgres'): Promise<{ db: Kysely<Database>; close(): Promise<void> }> {
  if (kind === 'pglite') {
    const db = new Kysely<Database>({ dialect: new PGliteDialect(await PGlite.create()) });
    await migrateToLatest(db);
    return { db, close: () => db.destroy() };
  }
  const t = await createTestDatabase('postgres');
  const pool = new pg.Pool({ connectionString: t.env['DATABASE_URL'], max: 4 });
  // The forced drop at the end terminates connections that are still closing.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await migrateToLatest(db);
  return {
    db,
    async close() {
      await db.destroy();
      await t.drop();
    },
  };
}

/**
 * A migrated database of `kind` and a queue store on it (5 s timeout) for
 * the enclosing `describe`: filled in by `beforeAll`, closed by `afterAll`.
 */
export function useQueueStore(kind: 'pglite' | 'postgres'): { db: Kysely<Database>; store: PostgresQueueStore } {
  const t = {} as { db: Kysely<Database>; store: PostgresQueueStore };
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const opened = await openInProcess(kind);
    close = opened.close;
    t.db = opened.db;
    t.store = new PostgresQueueStore(opened.db, 5000);
  });
  afterAll(async () => close?.());
  return t;
}

/**
 * A queue store for the enclosing `describe`: the memory version, or
 * Postgres as in useQueueStore. For logic above the store that should hold
 * on every version (the memory one runs without a database).
 */
export function useAnyQueueStore(kind: 'memory' | 'pglite' | 'postgres'): { store: QueueStore } {
  if (kind !== 'memory') return useQueueStore(kind);
  const t = {} as { store: QueueStore };
  beforeAll(() => {
    t.store = new MemoryQueueStore();
  });
  return t;
}
