import type { Kysely } from 'kysely';

/** The latest device list a user's primary signed as a whole (docs/device-approval.md). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('device_lists')
    .addColumn('user_id', 'text', (c) => c.primaryKey())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('signer', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('statement', 'text', (c) => c.notNull())
    .addColumn('signed_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('device_lists').execute();
}
