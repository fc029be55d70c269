import { sql, type Kysely } from 'kysely';

/**
 * The queue becomes a table hash-partitioned by recipient device, in
 * QUEUE_PARTITIONS parts. Every hot query names one device (the backlog
 * read, the deletes by dedup key, the insert's conflict check), so each
 * touches one partition and its own, smaller indexes; autovacuum works
 * partition by partition; and a partition can later move on its own (to
 * another tablespace, or out to another database by remainder).
 *
 * On an existing deployment the rows are copied in this migration's
 * transaction, with the same `seq` values, and the sequence carries on. The
 * old table stays locked while they are copied, so other nodes' queue
 * writes wait for it (and time out into `store_failed`, never a lost
 * message, if the copy outlasts DB_TIMEOUT_MS): run `npm run migrate`
 * before a rolling upgrade when the queue is large (docs/operations.md).
 *
 * The primary key becomes (recipient, seq), as a partitioned table's keys
 * must hold the partition key; it is also the backlog read's index, which
 * was a separate index before.
 */
export const QUEUE_PARTITIONS = 16;

const columns = sql.raw('seq, recipient_user, recipient_device, dedup_key, message_id, kind, sender_user, sender_device, frame, created_at');

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table queue_by_device (
    seq bigint not null default nextval('queue_seq_seq'),
    recipient_user text not null,
    recipient_device text not null,
    dedup_key text not null,
    message_id text not null,
    kind text not null,
    sender_user text not null,
    sender_device text not null,
    frame text not null,
    created_at timestamptz not null,
    constraint queue_by_device_pkey primary key (recipient_user, recipient_device, seq),
    constraint queue_by_device_dedup unique (recipient_user, recipient_device, dedup_key)
  ) partition by hash (recipient_user, recipient_device)`.execute(db);
  for (let i = 0; i < QUEUE_PARTITIONS; i++) {
    await sql`create table ${sql.raw(`queue_p${String(i).padStart(2, '0')}`)} partition of queue_by_device for values with (modulus ${sql.lit(QUEUE_PARTITIONS)}, remainder ${sql.lit(i)})`.execute(db);
  }
  await sql`create index queue_by_device_created on queue_by_device (created_at)`.execute(db);
  await sql`insert into queue_by_device (${columns}) select ${columns} from queue`.execute(db);
  // The sequence outlives the old table, which owned it.
  await sql`alter sequence queue_seq_seq owned by queue_by_device.seq`.execute(db);
  await sql`drop table queue`.execute(db);
  await sql`alter table queue_by_device rename to queue`.execute(db);
  await sql`alter table queue rename constraint queue_by_device_pkey to queue_pkey`.execute(db);
  await sql`alter table queue rename constraint queue_by_device_dedup to queue_dedup`.execute(db);
  await sql`alter index queue_by_device_created rename to queue_created`.execute(db);
}

/** Back to one table, rows and sequence kept. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create table queue_single (like queue including defaults)`.execute(db);
  await sql`insert into queue_single (${columns}) select ${columns} from queue`.execute(db);
  await sql`alter sequence queue_seq_seq owned by queue_single.seq`.execute(db);
  await sql`drop table queue`.execute(db);
  await sql`alter table queue_single rename to queue`.execute(db);
  await sql`alter table queue add constraint queue_pkey primary key (seq)`.execute(db);
  await sql`alter table queue add constraint queue_dedup unique (recipient_user, recipient_device, dedup_key)`.execute(db);
  await sql`create index queue_drain on queue (recipient_user, recipient_device, seq)`.execute(db);
  await sql`create index queue_created on queue (created_at)`.execute(db);
}
