import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';
import { windowVerdict, type WindowVerdict } from './fixed-window.ts';

export interface WindowRule {
  limit: number;
  windowMs: number;
}

/**
 * Fixed-window counters in Postgres, for the rare, security-relevant
 * actions (device registration, approval attempts) that must be limited
 * across every node. One upsert per hit. It fails closed: when the database
 * cannot answer, the action is refused.
 */
export class StoredRateLimit {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
  ) {}

  /** Counts one hit against each key; refused when any key is over its limit (or the count fails). */
  async hit(keys: readonly { key: string; rule: WindowRule }[], now: number): Promise<WindowVerdict> {
    try {
      let worst: WindowVerdict = { allowed: true, retryAfterSeconds: 0 };
      for (const { key, rule } of keys) {
        const v = await this.hitOne(key, rule, now);
        if (!v.allowed && v.retryAfterSeconds >= worst.retryAfterSeconds) worst = v;
      }
      return worst;
    } catch {
      return { allowed: false, retryAfterSeconds: 5 };
    }
  }

  /** Drops counters whose window ended before `cutoff`. */
  async prune(cutoff: number): Promise<void> {
    await withTimeout(this.db.deleteFrom('rate_limits').where('window_start', '<', new Date(cutoff)).execute(), this.timeoutMs, 'rate limit prune');
  }

  private async hitOne(key: string, rule: WindowRule, now: number): Promise<WindowVerdict> {
    const start = new Date(now).toISOString();
    const expired = new Date(now - rule.windowMs).toISOString();
    const res = await withTimeout(
      sql<{ count: number; window_start: Date | string }>`
        insert into rate_limits (key, window_start, count) values (${key}, ${start}::timestamptz, 1)
        on conflict (key) do update set
          count = case when rate_limits.window_start <= ${expired}::timestamptz then 1 else rate_limits.count + 1 end,
          window_start = case when rate_limits.window_start <= ${expired}::timestamptz then ${start}::timestamptz else rate_limits.window_start end
        returning count, window_start`.execute(this.db),
      this.timeoutMs,
      'rate limit',
    );
    const row = res.rows[0];
    if (!row) throw new Error('rate limit upsert returned nothing');
    return windowVerdict(Number(row.count), new Date(row.window_start).getTime(), now, rule.windowMs, rule.limit);
  }
}
