import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { tempDir } from '../../tools/relay-process.ts';

/**
 * Where a test's relay keeps its data. Every test file gets its own: a fresh
 * PGlite directory, or a fresh database on the Postgres server named by
 * DATABASE_URL, so files run in parallel without seeing each other's rows.
 */
export interface TestDatabase {
  kind: 'pglite' | 'postgres';
  /** Environment for the relay: DATABASE_URL for Postgres, DATA_DIR always. */
  env: Record<string, string>;
  /** Runs SQL against the same database (Postgres only). */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

export const postgresUrl = process.env['DATABASE_URL'];

/** The backends a suite should run on: PGlite always, Postgres when DATABASE_URL is set. */
export const backends: ('pglite' | 'postgres')[] = postgresUrl ? ['pglite', 'postgres'] : ['pglite'];

export async function createTestDatabase(kind: 'pglite' | 'postgres'): Promise<TestDatabase> {
  const dataDir = tempDir('relay-data');
  if (kind === 'pglite') {
    return {
      kind,
      env: { DATA_DIR: dataDir },
      query: () => Promise.reject(new Error('query() needs Postgres; PGlite is owned by the relay process')),
      drop: async () => {},
    };
  }
  if (!postgresUrl) throw new Error('DATABASE_URL is not set');
  const name = `relay_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  pool.on('error', () => {});
  return {
    kind,
    env: { DATABASE_URL: url.toString(), DATA_DIR: dataDir },
    query: async <R>(sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows as R[],
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: postgresUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
