import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';
import { committedEntry, type QueueEntry, type StoredKind } from './queue-entry.ts';

export interface EntryKey {
  recipientUser: string;
  recipientDevice: string;
  dedupKey: string;
}

/** Deletes every entry waiting for a device: on revocation, inside the registry's transaction and once more after the writer's batch in flight. */
export async function deleteDeviceQueue(db: Kysely<Database>, user: string, device: string): Promise<void> {
  await db.deleteFrom('queue').where('recipient_user', '=', user).where('recipient_device', '=', device).execute();
}

/**
 * The durable queue in Postgres. Writes take whole batches as one
 * statement (unnest of column arrays, inserts and deletes joined in a
 * WITH), so a batch of a thousand entries is one round trip.
 */
export class QueueStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Inserts and deletes in one statement: one round trip, and one implicit
   * transaction, so both happen or neither. Inserts that collide with an
   * existing entry are skipped (dedup). A batch never deletes a row it
   * inserts (an entry acked while its batch is in flight has its delete in
   * the next batch), so the delete not seeing this statement's inserts
   * changes nothing.
   */
  async commit(inserts: readonly QueueEntry[], deletes: readonly EntryKey[]): Promise<void> {
    const col = <K extends keyof QueueEntry>(k: K) => inserts.map((e) => e[k]);
    const insert =
      inserts.length > 0
        ? sql`
          insert into queue (recipient_user, recipient_device, dedup_key, message_id, kind, sender_user, sender_device, frame, created_at)
          select * from unnest(
            ${col('recipientUser')}::text[], ${col('recipientDevice')}::text[], ${col('dedupKey')}::text[],
            ${col('messageId')}::text[], ${col('kind')}::text[], ${col('senderUser')}::text[],
            ${col('senderDevice')}::text[], ${col('frame')}::text[], ${inserts.map((e) => e.createdAt.toISOString())}::timestamptz[])
          on conflict (recipient_user, recipient_device, dedup_key) do nothing`
        : undefined;
    const remove =
      deletes.length > 0
        ? sql`
          delete from queue q using unnest(
            ${deletes.map((d) => d.recipientUser)}::text[], ${deletes.map((d) => d.recipientDevice)}::text[], ${deletes.map((d) => d.dedupKey)}::text[]
          ) as d(u, dv, k)
          where q.recipient_user = d.u and q.recipient_device = d.dv and q.dedup_key = d.k`
        : undefined;
    const statement = insert && remove ? sql`with inserted as (${insert}), removed as (${remove}) select 1` : (insert ?? remove);
    if (statement) await withTimeout(statement.execute(this.db), this.timeoutMs, 'queue commit');
  }

  /** One page of a device's backlog, oldest first, after `afterSeq`. */
  async readBacklog(user: string, device: string, afterSeq: string, limit: number): Promise<{ seq: string; entry: QueueEntry }[]> {
    const rows = await withTimeout(
      this.db
        .selectFrom('queue')
        .select(['seq', 'dedup_key', 'message_id', 'kind', 'sender_user', 'sender_device', 'frame', 'created_at'])
        .where('recipient_user', '=', user)
        .where('recipient_device', '=', device)
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(limit)
        .execute(),
      this.timeoutMs,
      'backlog read',
    );
    return rows.map((r) => ({
      seq: String(r.seq),
      entry: committedEntry({
        recipientUser: user,
        recipientDevice: device,
        dedupKey: r.dedup_key,
        messageId: r.message_id,
        kind: r.kind as StoredKind,
        senderUser: r.sender_user,
        senderDevice: r.sender_device,
        frame: r.frame,
        createdAt: new Date(r.created_at),
      }),
    }));
  }

  /** Removes up to `limit` entries created before `cutoff`; returns how many went. */
  async sweep(cutoff: Date, limit: number): Promise<number> {
    const res = await withTimeout(
      sql`delete from queue where seq in (select seq from queue where created_at < ${cutoff.toISOString()}::timestamptz limit ${limit})`.execute(this.db),
      this.timeoutMs,
      'retention sweep',
    );
    return Number(res.numAffectedRows ?? 0n);
  }

  /**
   * Removes queue rows of revoked devices: a batch in flight on another node
   * when a device was revoked can still land after the revocation's delete.
   */
  async purgeRevoked(): Promise<number> {
    const res = await withTimeout(
      sql`delete from queue q using devices d
          where d.status = 'revoked' and q.recipient_user = d.user_id and q.recipient_device = d.device_id`.execute(this.db),
      this.timeoutMs,
      'revoked purge',
    );
    return Number(res.numAffectedRows ?? 0n);
  }

  /** Removes every entry waiting for a device (it was revoked). */
  async dropDevice(user: string, device: string): Promise<void> {
    await withTimeout(deleteDeviceQueue(this.db, user, device), this.timeoutMs, 'queue drop');
  }

  /** Entries waiting for a device (tests and metrics). */
  async countFor(user: string, device: string): Promise<number> {
    const row = await withTimeout(
      this.db.selectFrom('queue').select((eb) => eb.fn.countAll<string>().as('n')).where('recipient_user', '=', user).where('recipient_device', '=', device).executeTakeFirstOrThrow(),
      this.timeoutMs,
      'queue count',
    );
    return Number(row.n);
  }
}
