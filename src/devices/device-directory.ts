import { sql, type Kysely } from 'kysely';
import type { Database, DeviceStatus } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';

/**
 * Which approved devices each user has, and each device's status at
 * connect. Lookups sit on the send path, so they are cached for a short
 * time and dropped whenever this node changes a user's devices; a send that
 * does not match the cached set is checked again against the database
 * before the sender is told its list is wrong, so a stale cache never
 * rejects a correct send.
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

  /**
   * Records that a device connected and returns its status. A device seen
   * for the first time is `unregistered`: it must send `device_register`
   * before it can do anything else.
   */
  async touch(user: string, device: string): Promise<DeviceStatus> {
    const row = await withTimeout(
      this.db
        .insertInto('devices')
        .values({ user_id: user, device_id: device, created_at: new Date(this.now()), last_seen_at: new Date(this.now()) })
        .onConflict((oc) => oc.columns(['user_id', 'device_id']).doUpdateSet({ last_seen_at: sql`excluded.last_seen_at` }))
        .returning('status')
        .executeTakeFirstOrThrow(),
      this.timeoutMs,
      'device upsert',
    );
    return row.status;
  }

  async devicesOf(user: string, fresh = false): Promise<ReadonlySet<string>> {
    const hit = this.cache.get(user);
    if (!fresh && hit && this.now() - hit.loadedAt < this.ttlMs) return hit.devices;
    const rows = await withTimeout(
      this.db.selectFrom('devices').select('device_id').where('user_id', '=', user).where('status', '=', 'approved').execute(),
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
