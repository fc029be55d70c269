import type { Kysely } from 'kysely';

/**
 * How to wake each device that asked to be woken while offline
 * (docs/push.md): one row per device, replaced on each registration.
 * `last_pushed_at` is the cluster-wide coalescing mark: a node claims a
 * push by moving it forward in one UPDATE, so two nodes never wake the
 * same device twice within the window.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('push_targets')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('endpoint', 'text')
    .addColumn('p256dh', 'text')
    .addColumn('auth', 'text')
    .addColumn('token', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_pushed_at', 'timestamptz')
    .addPrimaryKeyConstraint('push_targets_pkey', ['user_id', 'device_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('push_targets').execute();
}
