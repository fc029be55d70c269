import { sql, type Kysely } from 'kysely';

/**
 * Device identities and the approval flow.
 *
 * devices gains its identity (Ed25519 public key, base64), its status
 * (unregistered -> pending -> approved, or denied/revoked, both final) and
 * the approval evidence (who approved it and the signature over the
 * approval bytes), so any client can verify a device list itself.
 *
 * approval_requests: one per registration attempt of a non-first device.
 * The code is stored only as a hash bound to the request id.
 *
 * rate_limits: fixed-window counters for registration and approval attempts;
 * kept in Postgres so every node shares them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('devices')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('unregistered'))
    .addColumn('is_primary', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('device_name', 'text')
    .addColumn('device_type', 'text')
    .addColumn('identity_key', 'text')
    .addColumn('approved_by', 'text')
    .addColumn('approval_signature', 'text')
    .addColumn('approval_request', 'text')
    .addColumn('approved_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('devices_approved').on('devices').columns(['user_id', 'status']).execute();

  await db.schema
    .createTable('approval_requests')
    .addColumn('request_id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('ip_address', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('decided_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('approval_requests_pending').on('approval_requests').columns(['status', 'expires_at']).execute();
  await db.schema.createIndex('approval_requests_device').on('approval_requests').columns(['user_id', 'device_id']).execute();

  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('window_start', 'timestamptz', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .execute();
  await sql`comment on table rate_limits is 'fixed-window counters shared by all relay nodes'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('rate_limits').execute();
  await db.schema.dropTable('approval_requests').execute();
  await db.schema.dropIndex('devices_approved').execute();
  for (const c of ['status', 'is_primary', 'device_name', 'device_type', 'identity_key', 'approved_by', 'approval_signature', 'approval_request', 'approved_at', 'revoked_at']) {
    await db.schema.alterTable('devices').dropColumn(c).execute();
  }
}
