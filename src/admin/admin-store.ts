import type { Kysely } from 'kysely';
import type { Database, DeviceStatus } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';

/** What the operator sees of one device's stored queue. */
export interface QueueStats {
  depth: number;
  /** When the oldest waiting entry was stored (ISO), or null for an empty queue. */
  oldest: string | null;
}

export interface AdminDeviceRow {
  deviceId: string;
  deviceName: string | null;
  deviceType: string | null;
  status: DeviceStatus;
  primary: boolean;
  createdAt: string;
  lastSeenAt: string;
  approvedAt: string | null;
  revokedAt: string | null;
  queue: QueueStats;
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

/**
 * The admin API's reads, straight against the database: every device of a
 * user whatever its status (the device list clients see holds approved
 * ones only), and queue depth per device. The purge is the queue store's.
 */
export class AdminStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
  ) {}

  async devicesOf(user: string): Promise<AdminDeviceRow[]> {
    const [rows, queues] = await withTimeout(
      Promise.all([
        this.db.selectFrom('devices').selectAll().where('user_id', '=', user).orderBy('created_at').execute(),
        this.db
          .selectFrom('queue')
          .select(['recipient_device', (eb) => eb.fn.countAll<string>().as('n'), (eb) => eb.fn.min('created_at').as('oldest')])
          .where('recipient_user', '=', user)
          .groupBy('recipient_device')
          .execute(),
      ]),
      this.timeoutMs,
      'admin device list',
    );
    const byDevice = new Map(queues.map((q) => [q.recipient_device, { depth: Number(q.n), oldest: iso(q.oldest) }]));
    return rows.map((r) => ({
      deviceId: r.device_id,
      deviceName: r.device_name,
      deviceType: r.device_type,
      status: r.status,
      primary: r.is_primary,
      createdAt: iso(r.created_at)!,
      lastSeenAt: iso(r.last_seen_at)!,
      approvedAt: iso(r.approved_at),
      revokedAt: iso(r.revoked_at),
      queue: byDevice.get(r.device_id) ?? { depth: 0, oldest: null },
    }));
  }

  async queueOf(user: string, device: string): Promise<QueueStats> {
    const row = await withTimeout(
      this.db
        .selectFrom('queue')
        .select([(eb) => eb.fn.countAll<string>().as('n'), (eb) => eb.fn.min('created_at').as('oldest')])
        .where('recipient_user', '=', user)
        .where('recipient_device', '=', device)
        .executeTakeFirstOrThrow(),
      this.timeoutMs,
      'admin queue stats',
    );
    return { depth: Number(row.n), oldest: iso(row.oldest) };
  }

  async exists(user: string, device: string): Promise<boolean> {
    const row = await withTimeout(
      this.db.selectFrom('devices').select('device_id').where('user_id', '=', user).where('device_id', '=', device).executeTakeFirst(),
      this.timeoutMs,
      'admin device lookup',
    );
    return row !== undefined;
  }
}
