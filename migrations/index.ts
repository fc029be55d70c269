import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './2026-11-22-0001-queue-and-devices.ts';

/**
 * Every migration, by name, in the order they apply. Listed by hand rather
 * than read from the directory so a bundled or transpiled build finds them.
 */
const migrations: Record<string, Migration> = {
  '2026-11-22-0001-queue-and-devices': m0001,
};

export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };
