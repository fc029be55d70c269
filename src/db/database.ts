import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import { PGliteDialect } from './pglite-dialect.ts';

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: 'postgres' | 'pglite';
  /** Where it lives, for the start-up log (never includes a password). */
  where: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  timeoutMs: number;
  poolSize: number;
}

/**
 * Opens the relay's database: a pg Pool when DATABASE_URL is set, otherwise
 * embedded PGlite under DATA_DIR. Everything above this sees the same Kysely.
 * On the pg path the server enforces the timeout too (statement_timeout), so
 * an abandoned query does not keep running after the client gave up on it.
 */
export async function openDatabase(opts: DatabaseOptions): Promise<DatabaseHandle> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize,
      connectionTimeoutMillis: opts.timeoutMs,
      statement_timeout: opts.timeoutMs,
      query_timeout: opts.timeoutMs + 500,
      idle_in_transaction_session_timeout: opts.timeoutMs * 2,
      application_name: 'e2ee-relay',
    });
    // An idle client that loses its connection emits here; without a listener it would crash the process.
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const url = new URL(opts.databaseUrl);
    return { db, kind: 'postgres', where: `${url.hostname}:${url.port || 5432}${url.pathname}`, close: () => db.destroy() };
  }
  const dir = path.resolve(opts.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const lite = await PGlite.create(dir);
  const db = new Kysely<Database>({ dialect: new PGliteDialect(lite) });
  return { db, kind: 'pglite', where: dir, close: () => db.destroy() };
}
