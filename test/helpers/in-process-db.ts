import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { PGliteDialect } from '../../src/db/pglite-dialect.ts';
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
