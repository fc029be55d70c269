import type { Kysely } from 'kysely';
import type { Database, DeviceStatus } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';
import { GenerationalMap } from '../util/generational-map.ts';
import { TouchBatcher } from './touch-batcher.ts';

/**
 * Which approved devices each user has, and each device's status at
 * connect. Lookups sit on the send path, so they are cached for a short
 * time and dropped whenever this node changes a user's devices; a send that
 * does not match the cached set is checked again against the database
 * before the sender is told its list is wrong, so a stale cache never
 * rejects a correct send.
 */
export class DeviceDirectory {
  private readonly cache: GenerationalMap<string, { devices: ReadonlySet<string>; loadedAt: number }>;
  private readonly touches: TouchBatcher;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
    private readonly now: () => number,
    private readonly ttlMs = 5000,
    maxCached = 100_000,
  ) {
    this.touches = new TouchBatcher(db, timeoutMs, now);
    this.cache = new GenerationalMap(maxCached);
  }

  /**
   * Records that a device connected and returns its status. A device seen
   * for the first time is `unregistered`: it must send `device_register`
   * before it can do anything else.
   */
  touch(user: string, device: string): Promise<DeviceStatus> {
    return this.touches.touch(user, device);
  }

  /** The user's approved devices if the cache holds them within the TTL; lets a handler finish without a promise. */
  cached(user: string): ReadonlySet<string> | undefined {
    const hit = this.cache.get(user);
    return hit && this.now() - hit.loadedAt < this.ttlMs ? hit.devices : undefined;
  }

  async devicesOf(user: string, fresh = false): Promise<ReadonlySet<string>> {
    const hit = fresh ? undefined : this.cached(user);
    if (hit) return hit;
    const rows = await withTimeout(
      this.db.selectFrom('devices').select('device_id').where('user_id', '=', user).where('status', '=', 'approved').execute(),
      this.timeoutMs,
      'device lookup',
    );
    const devices = new Set(rows.map((r) => r.device_id));
    this.cache.set(user, { devices, loadedAt: this.now() });
    return devices;
  }

  invalidate(user: string): void {
    this.cache.delete(user);
  }
}
