import { sql, type Kysely } from 'kysely';
import type { Database, QueueTable } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';
import { committedEntry, type EntryFields, type QueueEntry, type StoredKind } from './queue-entry.ts';
import type { BacklogRow, EntryKey, QueueStore } from './queue-store.ts';

/** Deletes every entry waiting for a device: on revocation, inside the registry's transaction and once more after the writer's batch in flight. */
export async function deleteDeviceQueue(db: Kysely<Database>, user: string, device: string): Promise<number> {
  const r = await db.deleteFrom('queue').where('recipient_user', '=', user).where('recipient_device', '=', device).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/**
 * Frames are JSON text the relay wrote, so they hold no lone surrogate; if
 * one ever did, jsonb would refuse the whole batch. It is replaced with
 * U+FFFD instead, as the UTF-8 encoding of a text parameter always did.
 */
const wellFormed = (s: string): string => ((s as WellFormedString).isWellFormed() ? s : (s as WellFormedString).toWellFormed());
/** ES2024 string methods (Node 20 has them; the project's lib is ES2023). */
type WellFormedString = string & { isWellFormed(): boolean; toWellFormed(): string };

/** Each entry field's column in the queue table: a field added to EntryFields does not compile until it has one. */
const columnOf = {
  recipientUser: 'recipient_user',
  recipientDevice: 'recipient_device',
  dedupKey: 'dedup_key',
  messageId: 'message_id',
  kind: 'kind',
  senderUser: 'sender_user',
  senderDevice: 'sender_device',
  frame: 'frame',
  createdAt: 'created_at',
} as const satisfies Record<keyof EntryFields, keyof QueueTable>;
const entryFields = Object.keys(columnOf) as (keyof EntryFields)[];

/** A field's value as the text the batch's jsonb parameter carries. */
const textOf = (e: EntryFields, f: keyof EntryFields): string => (f === 'createdAt' ? e.createdAt.toISOString() : f === 'frame' ? wellFormed(e.frame) : e[f]);

/** The insert of a batch's entries, every field into its column, skipping those whose dedup key the device's queue has. */
function insertOf(inserts: readonly QueueEntry[]) {
  const rows = rowsOf(Object.fromEntries(entryFields.map((f) => [f, inserts.map((e) => textOf(e, f))])));
  const columns = sql.join(entryFields.map((f) => sql.ref(columnOf[f])));
  const values = sql.join(entryFields.map((f) => (f === 'createdAt' ? sql`${sql.ref(f)}::timestamptz` : sql.ref(f))));
  return sql`insert into queue (${columns}) select ${values} from ${rows} on conflict (recipient_user, recipient_device, dedup_key) do nothing`;
}

/**
 * A batch's rows as a derived table `d` with text columns named by the
 * keys, all columns of equal length. They travel as one jsonb parameter
 * holding one array per column, not as one Postgres array literal per
 * column: pg builds array literals in JavaScript, escaping every element
 * with two regular expressions (every quote of every stored frame), where
 * JSON.stringify is native. Measured on 500-entry batches: 5.4-6.8 ms of
 * the relay's CPU per batch against 9-12 ms, the database's time the same.
 */
function rowsOf(byName: Record<string, readonly string[]>) {
  const columns = Object.entries(byName);
  const names = sql.join(columns.map(([name], i) => sql`c->${sql.lit(i)}->>i as ${sql.ref(name)}`));
  return sql`(select ${names} from (select ${JSON.stringify(columns.map(([, values]) => values))}::jsonb as c) p, generate_series(0, jsonb_array_length(p.c->0) - 1) as i) as d`;
}

/**
 * The durable queue in Postgres. Writes take whole batches as one
 * statement (one jsonb parameter, inserts and deletes joined in a WITH),
 * so a batch of a thousand entries is one round trip. Every query has the
 * store's timeout.
 */
export class PostgresQueueStore implements QueueStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
  ) {}

  /**
   * One statement: one round trip, and one implicit transaction. The delete
   * does not see this statement's inserts, which the contract allows (a
   * batch never deletes a row it inserts).
   */
  async commit(inserts: readonly QueueEntry[], deletes: readonly EntryKey[]): Promise<void> {
    const insert = inserts.length > 0 ? insertOf(inserts) : undefined;
    const remove =
      deletes.length > 0
        ? sql`
          delete from queue q using ${rowsOf({ u: deletes.map((d) => d.recipientUser), dv: deletes.map((d) => d.recipientDevice), k: deletes.map((d) => d.dedupKey) })}
          where q.recipient_user = d.u and q.recipient_device = d.dv and q.dedup_key = d.k`
        : undefined;
    const statement = insert && remove ? sql`with inserted as (${insert}), removed as (${remove}) select 1` : (insert ?? remove);
    if (statement) await withTimeout(statement.execute(this.db), this.timeoutMs, 'queue commit');
  }

  async readBacklog(user: string, device: string, afterSeq: string, limit: number): Promise<BacklogRow[]> {
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

  /** One round trip: each device is one probe of the drain index. */
  async withBacklog(devices: readonly { user: string; device: string; afterSeq: string }[]): Promise<Set<number>> {
    if (devices.length === 0) return new Set();
    const { rows } = await withTimeout(
      sql<{ n: string }>`
        select d.n from ${rowsOf({ n: devices.map((_, i) => String(i)), u: devices.map((d) => d.user), dv: devices.map((d) => d.device), s: devices.map((d) => d.afterSeq) })}
        where exists (select 1 from queue q where q.recipient_user = d.u and q.recipient_device = d.dv and q.seq > d.s::bigint)`.execute(this.db),
      this.timeoutMs,
      'backlog probe',
    );
    return new Set(rows.map((r) => Number(r.n)));
  }

  async sweep(cutoff: Date, limit: number): Promise<number> {
    const res = await withTimeout(
      sql`delete from queue where seq in (select seq from queue where created_at < ${cutoff.toISOString()}::timestamptz limit ${limit})`.execute(this.db),
      this.timeoutMs,
      'retention sweep',
    );
    return Number(res.numAffectedRows ?? 0n);
  }

  async purgeRevoked(): Promise<number> {
    const res = await withTimeout(
      sql`delete from queue q using devices d
          where d.status = 'revoked' and q.recipient_user = d.user_id and q.recipient_device = d.device_id`.execute(this.db),
      this.timeoutMs,
      'revoked purge',
    );
    return Number(res.numAffectedRows ?? 0n);
  }

  async dropDevice(user: string, device: string): Promise<number> {
    return withTimeout(deleteDeviceQueue(this.db, user, device), this.timeoutMs, 'queue drop');
  }

  async countFor(user: string, device: string): Promise<number> {
    const row = await withTimeout(
      this.db
        .selectFrom('queue')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('recipient_user', '=', user)
        .where('recipient_device', '=', device)
        .executeTakeFirstOrThrow(),
      this.timeoutMs,
      'queue count',
    );
    return Number(row.n);
  }
}
