import { sql, type Kysely } from 'kysely';
import type { Database, DeviceStatus } from '../db/schema.ts';
import { deviceKey } from '../delivery/queue-entry.ts';
import { withTimeout } from '../util/with-timeout.ts';

/** A device's status, or why the relay did not create its row. */
export type TouchResult = DeviceStatus | 'too_many_unregistered';

interface Waiter {
  resolve: (status: TouchResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Records device connections (`last_seen_at`, and the row itself for a new
 * device) and reads their status, for all the upgrades of one event-loop
 * turn in a single upsert. A reconnect storm, as after a node restart,
 * then costs one round trip and one WAL flush per batch instead of one per
 * socket.
 *
 * Batches may overlap; rows are written in key order so that two batches
 * touching the same devices take their row locks in the same order and
 * cannot deadlock. A device touched twice in one turn is written once and
 * both callers get its status. A failed or timed-out batch fails each of
 * its callers (their upgrades are refused with 503).
 *
 * A token holder chooses its device id, and each new id used to leave a
 * row behind. A new id is now written only while the user has fewer than
 * `maxUnregistered` rows that never registered (counting those ahead of it
 * in the same batch); past that the caller gets `too_many_unregistered`
 * and nothing is written. Devices that already have a row are always
 * touched. Two batches running at once for the same user may each see
 * room, so the bound can be passed by at most one batch's worth; the
 * retention sweep removes unregistered rows that stay unseen.
 */
export class TouchBatcher {
  private pending = new Map<string, { user: string; device: string; waiters: Waiter[] }>();
  private scheduled = false;

  private readonly maxUnregistered: number;
  private readonly batchMax: number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
    private readonly now: () => number,
    opts: { maxUnregistered?: number; batchMax?: number } = {},
  ) {
    this.maxUnregistered = Math.min(opts.maxUnregistered ?? 2 ** 31 - 1, 2 ** 31 - 1);
    this.batchMax = opts.batchMax ?? 500;
  }

  touch(user: string, device: string): Promise<TouchResult> {
    return new Promise((resolve, reject) => {
      const key = deviceKey(user, device);
      const slot = this.pending.get(key);
      if (slot) slot.waiters.push({ resolve, reject });
      else this.pending.set(key, { user, device, waiters: [{ resolve, reject }] });
      if (this.pending.size >= this.batchMax) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
    this.pending = new Map();
    const at = new Date(this.now()).toISOString();
    // Built inside a promise so that even a synchronous failure reaches the callers, not the event loop.
    // `fresh` numbers each user's new ids in batch order; one is admitted while the user's unregistered
    // rows plus those numbered before it stay under the cap. Known devices pass untouched by the count.
    const work = Promise.resolve().then(() =>
      sql<{ user_id: string; device_id: string; status: DeviceStatus }>`
      with input as (
        select u, d, n from unnest(${batch.map((b) => b.user)}::text[], ${batch.map((b) => b.device)}::text[]) with ordinality as t(u, d, n)
      ), fresh as (
        select i.u, i.d, i.n, row_number() over (partition by i.u order by i.n) as k
        from input i where not exists (select 1 from devices x where x.user_id = i.u and x.device_id = i.d)
      ), waiting as (
        select user_id, count(*) as c from devices
        where status = 'unregistered' and user_id in (select u from fresh) group by user_id
      ), admitted as (
        select i.u, i.d, i.n from input i where not exists (select 1 from fresh f where f.u = i.u and f.d = i.d)
        union all
        select f.u, f.d, f.n from fresh f left join waiting w on w.user_id = f.u where coalesce(w.c, 0) + f.k <= ${this.maxUnregistered}::int
      )
      insert into devices (user_id, device_id, created_at, last_seen_at)
      select u, d, ${at}::timestamptz, ${at}::timestamptz from admitted
      order by n
      on conflict (user_id, device_id) do update set last_seen_at = excluded.last_seen_at
      returning user_id, device_id, status`.execute(this.db),
    );
    withTimeout(work, this.timeoutMs, 'device upsert').then(
      ({ rows }) => {
        const status = new Map(rows.map((r) => [deviceKey(r.user_id, r.device_id), r.status]));
        for (const b of batch) {
          const s = status.get(deviceKey(b.user, b.device));
          // A row is returned for every device admitted: the missing ones were over the cap.
          for (const w of b.waiters) w.resolve(s ?? 'too_many_unregistered');
        }
      },
      (err: unknown) => {
        for (const b of batch) for (const w of b.waiters) w.reject(err);
      },
    );
  }
}
