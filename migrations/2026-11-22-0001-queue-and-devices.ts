import { sql, type Kysely } from 'kysely';

/**
 * The durable delivery queue and the devices seen so far.
 *
 * queue: one row per recipient device and stored frame. The unique key on
 * (recipient, dedup_key) makes a retried send a no-op; the (recipient, seq)
 * index serves the backlog drain in arrival order; created_at serves the
 * retention sweeper.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('devices')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('devices_pk', ['user_id', 'device_id'])
    .execute();

  await db.schema
    .createTable('queue')
    .addColumn('seq', 'bigserial', (c) => c.primaryKey())
    .addColumn('recipient_user', 'text', (c) => c.notNull())
    .addColumn('recipient_device', 'text', (c) => c.notNull())
    .addColumn('dedup_key', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('sender_user', 'text', (c) => c.notNull())
    .addColumn('sender_device', 'text', (c) => c.notNull())
    .addColumn('frame', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addUniqueConstraint('queue_dedup', ['recipient_user', 'recipient_device', 'dedup_key'])
    .execute();

  await db.schema.createIndex('queue_drain').on('queue').columns(['recipient_user', 'recipient_device', 'seq']).execute();
  await db.schema.createIndex('queue_created').on('queue').column('created_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('queue').execute();
  await db.schema.dropTable('devices').execute();
}
