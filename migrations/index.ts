import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './2026-11-22-0001-queue-and-devices.ts';
import * as m0002 from './2026-11-22-0002-device-approval.ts';
import * as m0003 from './2026-11-22-0003-contacts.ts';
import * as m0004 from './2026-12-06-0004-unregistered-devices.ts';
import * as m0005 from './2026-12-06-0005-device-lists.ts';
import * as m0006 from './2026-12-06-0006-push-targets.ts';

/**
 * Every migration, by name, in the order they apply. Listed by hand rather
 * than read from the directory so a bundled or transpiled build finds them.
 */
const migrations: Record<string, Migration> = {
  '2026-11-22-0001-queue-and-devices': m0001,
  '2026-11-22-0002-device-approval': m0002,
  '2026-11-22-0003-contacts': m0003,
  '2026-12-06-0004-unregistered-devices': m0004,
  '2026-12-06-0005-device-lists': m0005,
  '2026-12-06-0006-push-targets': m0006,
};

export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };
