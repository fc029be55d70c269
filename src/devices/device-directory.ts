import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';

/**
 * Which devices each user has. A device becomes known when it first
 * connects. Lookups sit on the send path, so they are cached for a short
 * time; a send that does not match the cached set is checked again against
 * the database before the sender is told its list is wrong, so a stale cache
 * can delay a new device by at most the TTL and never reject a correct send.
 */
export class DeviceDirectory {
  private readonly cache = new Map<string, { devices: ReadonlySet<string>; loadedAt: number }>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
    private readonly now: () => number,
    private readonly ttlMs = 5000,
    private readonly maxCached = 100_000,
  ) {}

  /** Records that a device connected (first time: it joins the user's device set). */
  async touch(user: string, device: string): Promise<void> {
    await withTimeout(
      this.db
        .insertInto('devices')
        .values({ user_id: user, device_id: device, created_at: new Date(this.now()), last_seen_at: new Date(this.now()) })
        .onConflict((oc) => oc.columns(['user_id', 'device_id']).doUpdateSet({ last_seen_at: sql`excluded.last_seen_at` }))
        .execute(),
      this.timeoutMs,
      'device upsert',
    );
    this.invalidate(user);
  }

  async devicesOf(user: string, fresh = false): Promise<ReadonlySet<string>> {
    const hit = this.cache.get(user);
    if (!fresh && hit && this.now() - hit.loadedAt < this.ttlMs) return hit.devices;
    const rows = await withTimeout(
      this.db.selectFrom('devices').select('device_id').where('user_id', '=', user).execute(),
      this.timeoutMs,
      'device lookup',
    );
    const devices = new Set(rows.map((r) => r.device_id));
    if (this.cache.size >= this.maxCached) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(user, { devices, loadedAt: this.now() });
    return devices;
  }

  invalidate(user: string): void {
    this.cache.delete(user);
  }
}
