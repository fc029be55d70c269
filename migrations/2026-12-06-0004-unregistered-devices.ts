import { sql, type Kysely } from 'kysely';

/**
 * Devices that connected but never registered, by when they were last
 * seen: the retention sweep removes the stale ones without reading every
 * device row.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('devices_unregistered_seen').on('devices').column('last_seen_at').where(sql.ref('status'), '=', 'unregistered').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('devices_unregistered_seen').execute();
}
