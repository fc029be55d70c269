import { sql, type Kysely } from 'kysely';
import type { Database, DeviceStatus } from '../db/schema.ts';
import { deviceKey } from '../delivery/queue-entry.ts';
import { withTimeout } from '../util/with-timeout.ts';

interface Waiter {
  resolve: (status: DeviceStatus) => void;
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
 */
export class TouchBatcher {
  private pending = new Map<string, { user: string; device: string; waiters: Waiter[] }>();
  private scheduled = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
    private readonly now: () => number,
    private readonly batchMax = 500,
  ) {}

  touch(user: string, device: string): Promise<DeviceStatus> {
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
    const work = Promise.resolve().then(() => sql<{ user_id: string; device_id: string; status: DeviceStatus }>`
      insert into devices (user_id, device_id, created_at, last_seen_at)
      select u, d, ${at}::timestamptz, ${at}::timestamptz
      from unnest(${batch.map((b) => b.user)}::text[], ${batch.map((b) => b.device)}::text[]) with ordinality as t(u, d, n)
      order by n
      on conflict (user_id, device_id) do update set last_seen_at = excluded.last_seen_at
      returning user_id, device_id, status`.execute(this.db));
    withTimeout(work, this.timeoutMs, 'device upsert').then(
      ({ rows }) => {
        const status = new Map(rows.map((r) => [deviceKey(r.user_id, r.device_id), r.status]));
        for (const b of batch) {
          const s = status.get(deviceKey(b.user, b.device));
          for (const w of b.waiters) {
            if (s) w.resolve(s);
            else w.reject(new Error('device upsert returned no row'));
          }
        }
      },
      (err: unknown) => {
        for (const b of batch) for (const w of b.waiters) w.reject(err);
      },
    );
  }
}
