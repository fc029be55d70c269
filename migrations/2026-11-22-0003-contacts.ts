import type { Kysely } from 'kysely';

/**
 * Contacts, one row per direction: presence is shared only between mutual
 * contacts (both rows exist), so adding someone does not let you watch them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('contacts')
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('contact_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('contacts_pk', ['owner_id', 'contact_id'])
    .execute();
  await db.schema.createIndex('contacts_reverse').on('contacts').columns(['contact_id', 'owner_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('contacts').execute();
}
