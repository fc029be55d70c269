import { loadConfig } from '../config/config.ts';
import { openDatabase } from './database.ts';
import { migrateToLatest } from './migrate.ts';

/** `npm run migrate`: applies pending migrations to the configured database and exits. */
const config = loadConfig(process.env);
const handle = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, timeoutMs: config.DB_TIMEOUT_MS, poolSize: 2 });
try {
  const { applied } = await migrateToLatest(handle.db);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date');
} finally {
  await handle.close();
}
