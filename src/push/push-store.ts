import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, PushTargetsTable } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';
import type { PushJob, PushTarget } from './push-target.ts';

/** Frames counted for a push's `count`, at most: a number past this says nothing more. */
export const WAITING_COUNT_MAX = 100;

export interface DeviceRef {
  user: string;
  device: string;
}

/**
 * Push targets in Postgres, one per device. Every call is bounded by the
 * database timeout; none runs on a message's path (the dispatcher calls
 * them from its own loop).
 */
export class PushStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
  ) {}

  /** Stores the device's target, replacing any earlier one; the coalescing mark starts over. */
  async register(user: string, device: string, target: PushTarget, now: number): Promise<void> {
    const row = {
      kind: target.kind,
      endpoint: target.kind === 'webpush' ? target.endpoint : null,
      p256dh: target.kind === 'webpush' ? target.p256dh : null,
      auth: target.kind === 'webpush' ? target.auth : null,
      token: target.kind === 'webhook' ? target.token : null,
      created_at: new Date(now),
      last_pushed_at: null,
    };
    await withTimeout(
      this.db
        .insertInto('push_targets')
        .values({ user_id: user, device_id: device, ...row })
        .onConflict((oc) => oc.columns(['user_id', 'device_id']).doUpdateSet(row))
        .execute(),
      this.timeoutMs,
      'push register',
    );
  }

  /** Removes the device's target; `only` removes it only while it is still that target (a 410 for an old token). */
  async remove(user: string, device: string, only?: PushTarget): Promise<boolean> {
    let q = this.db.deleteFrom('push_targets').where('user_id', '=', user).where('device_id', '=', device);
    if (only?.kind === 'webpush') q = q.where('endpoint', '=', only.endpoint);
    if (only?.kind === 'webhook') q = q.where('token', '=', only.token);
    const r = await withTimeout(q.executeTakeFirst(), this.timeoutMs, 'push remove');
    return Number(r.numDeletedRows) > 0;
  }

  /**
   * Claims a push for each of these devices that may be woken now, in one
   * statement, and returns them with their count of waiting frames. A
   * device is claimed when it has a target, is approved, has a frame
   * waiting other than a receipt, and was not pushed since `windowStart`
   * or has connected since its last push. The claim moves its mark to
   * `now`, so a second node (or a second pass) asking for the same device
   * inside the window gets nothing: one wake per window, cluster-wide.
   */
  async claim(devices: readonly DeviceRef[], now: number, windowStart: number): Promise<PushJob[]> {
    if (devices.length === 0) return [];
    const values = sql.join(devices.map((d) => sql`(${d.user}, ${d.device})`));
    const result = await withTimeout(
      sql<TargetRow & { waiting: number }>`
        update push_targets as t set last_pushed_at = ${new Date(now)}
        from (values ${values}) as v(u, d), devices as dv
        where t.user_id = v.u and t.device_id = v.d
          and dv.user_id = t.user_id and dv.device_id = t.device_id and dv.status = 'approved'
          and (t.last_pushed_at is null or t.last_pushed_at <= ${new Date(windowStart)} or t.last_pushed_at < dv.last_seen_at)
          and exists (select 1 from queue q where q.recipient_user = t.user_id and q.recipient_device = t.device_id and q.kind <> 'status_update')
        returning t.user_id, t.device_id, t.kind, t.endpoint, t.p256dh, t.auth, t.token,
          (select count(*) from (select 1 from queue q where q.recipient_user = t.user_id and q.recipient_device = t.device_id
             and q.kind <> 'status_update' limit ${WAITING_COUNT_MAX}) w)::int as waiting`.execute(this.db),
      this.timeoutMs,
      'push claim',
    );
    return result.rows.map((r) => ({ user: r.user_id, device: r.device_id, target: targetOf(r), waiting: Number(r.waiting) }));
  }
}

type TargetRow = Omit<Selectable<PushTargetsTable>, 'created_at' | 'last_pushed_at'>;

function targetOf(r: TargetRow): PushTarget {
  return r.kind === 'webpush' ? { kind: 'webpush', endpoint: r.endpoint!, p256dh: r.p256dh!, auth: r.auth! } : { kind: 'webhook', token: r.token! };
}
