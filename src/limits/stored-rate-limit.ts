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

  /**
   * Counts one hit against each key, all in one statement (one round trip,
   * one commit); refused when any key is over its limit, or when the count
   * fails. Rows are written in key order (the statement's `order by`), so
   * two callers sharing keys lock them in the same order. `db` may be a
   * transaction: counted there, the hit commits with the change it guards
   * (one commit instead of two).
   */
  async hit(keys: readonly { key: string; rule: WindowRule }[], now: number, db: Kysely<Database> = this.db): Promise<WindowVerdict> {
    try {
      const rules = new Map<string, WindowRule>();
      for (const { key, rule } of keys) if (!rules.has(key)) rules.set(key, rule);
      const names = [...rules.keys()];
      const start = new Date(now).toISOString();
      const res = await withTimeout(
        sql<{ key: string; count: number; window_start: Date | string }>`
          with input(k, expired) as (
            select * from unnest(${names}::text[], ${names.map((k) => new Date(now - rules.get(k)!.windowMs).toISOString())}::timestamptz[])
          )
          insert into rate_limits (key, window_start, count)
          select k, ${start}::timestamptz, 1 from input order by k
          on conflict (key) do update set
            count = case when rate_limits.window_start <= (select expired from input where input.k = excluded.key) then 1 else rate_limits.count + 1 end,
            window_start = case when rate_limits.window_start <= (select expired from input where input.k = excluded.key) then excluded.window_start else rate_limits.window_start end
          returning key, count, window_start`.execute(db),
        this.timeoutMs,
        'rate limit',
      );
      if (res.rows.length !== names.length) throw new Error('rate limit upsert returned too few rows');
      let worst: WindowVerdict = { allowed: true, retryAfterSeconds: 0 };
      for (const row of res.rows) {
        const rule = rules.get(row.key)!;
        const v = windowVerdict(Number(row.count), new Date(row.window_start).getTime(), now, rule.windowMs, rule.limit);
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
}
