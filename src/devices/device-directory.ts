import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';
import { GenerationalMap } from '../util/generational-map.ts';
import { TouchBatcher, type TouchResult } from './touch-batcher.ts';

/**
 * Which approved devices each user has, and each device's status at
 * connect. Lookups sit on the send path, so they are cached for a short
 * time and dropped whenever this node changes a user's devices; a send that
 * does not match the cached set is checked again against the database
 * before the sender is told its list is wrong, so a stale cache never
 * rejects a correct send.
 */
/** A user's approved devices, and the type each registered with (shown to contacts beside presence). */
interface Approved {
  devices: ReadonlySet<string>;
  types: ReadonlyMap<string, string | null>;
}

export class DeviceDirectory {
  private readonly cache: GenerationalMap<string, Approved & { loadedAt: number }>;
  private readonly touches: TouchBatcher;
  /**
   * Each user's latest read under way: callers that miss the cache share it,
   * and only it may fill the cache (an invalidation removes it).
   */
  private readonly reading = new Map<string, Promise<Approved>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
    private readonly now: () => number,
    private readonly ttlMs = 5000,
    maxCached = 100_000,
    maxUnregistered?: number,
  ) {
    this.touches = new TouchBatcher(db, timeoutMs, now, maxUnregistered === undefined ? {} : { maxUnregistered });
    this.cache = new GenerationalMap(maxCached);
  }

  /**
   * Records that a device connected and returns its status. A device seen
   * for the first time is `unregistered`: it must send `device_register`
   * before it can do anything else. A new device id of a user who has
   * `maxUnregistered` of those already is refused and not recorded.
   */
  touch(user: string, device: string): Promise<TouchResult> {
    return this.touches.touch(user, device);
  }

  /**
   * Removes rows of devices that connected but never registered and have
   * not connected since `cutoff`. They hold nothing (no keys, no queue, no
   * request); a device that comes back gets its row again.
   */
  async pruneUnregistered(cutoff: Date): Promise<number> {
    const res = await withTimeout(this.db.deleteFrom('devices').where('status', '=', 'unregistered').where('last_seen_at', '<', cutoff).executeTakeFirst(), this.timeoutMs, 'unregistered prune');
    return Number(res.numDeletedRows);
  }

  /** The user's approved devices if the cache holds them within the TTL; lets a handler finish without a promise. */
  cached(user: string): ReadonlySet<string> | undefined {
    const hit = this.cache.get(user);
    return hit && this.now() - hit.loadedAt < this.ttlMs ? hit.devices : undefined;
  }

  /**
   * The user's approved devices, from the cache or the database. Callers
   * that miss the cache while a read of the same user is under way share
   * that read: when a busy user's entry expires, every message and receipt
   * for the user misses until the first read returns, and each used to
   * make a read of its own. Two nodes at saturation made 18,500 reads in
   * two seconds that way, queued behind each other in the pool, against
   * 50 once the cache held every user. `fresh` always reads anew (a send
   * that did not match the cache is checked against the database itself),
   * and callers that miss meanwhile share that newer read.
   */
  devicesOf(user: string, fresh = false): Promise<ReadonlySet<string>> {
    const hit = fresh ? undefined : this.cached(user);
    return hit ? Promise.resolve(hit) : this.approved(user, fresh).then((a) => a.devices);
  }

  /** The type an approved device registered with; null for a device not approved (or registered without one). */
  async typeOf(user: string, device: string): Promise<string | null> {
    const hit = this.cache.get(user);
    const a = hit && this.now() - hit.loadedAt < this.ttlMs ? hit : await this.approved(user, false);
    return a.types.get(device) ?? null;
  }

  private approved(user: string, fresh: boolean): Promise<Approved> {
    if (!fresh) {
      const running = this.reading.get(user);
      if (running) return running;
    }
    // Only the user's latest read fills the cache, and none that an invalidation overtook.
    const latest = (): boolean => {
      if (this.reading.get(user) !== read) return false;
      this.reading.delete(user);
      return true;
    };
    const read: Promise<Approved> = withTimeout(
      this.db.selectFrom('devices').select(['device_id', 'device_type']).where('user_id', '=', user).where('status', '=', 'approved').execute(),
      this.timeoutMs,
      'device lookup',
    ).then(
      (rows) => {
        const a: Approved = { devices: new Set(rows.map((r) => r.device_id)), types: new Map(rows.map((r) => [r.device_id, r.device_type])) };
        if (latest()) this.cache.set(user, { ...a, loadedAt: this.now() });
        return a;
      },
      (err: unknown) => {
        latest();
        throw err;
      },
    );
    this.reading.set(user, read);
    return read;
  }

  invalidate(user: string): void {
    this.cache.delete(user);
    // Callers after this point read anew rather than join a read that may predate the change.
    this.reading.delete(user);
  }
}
