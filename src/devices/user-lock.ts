import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';

/**
 * Runs `fn` in one transaction holding the user's advisory lock, within
 * `timeoutMs`. Every change to a user's devices (registration, approval,
 * revocation, a signed list) goes through here, so two of them for the
 * same user never interleave, on one node or several.
 */
export function inUserTx<T>(db: Kysely<Database>, userId: string, timeoutMs: number, what: string, fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
  return withTimeout(
    db.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${userId}))`.execute(tx);
      return fn(tx);
    }),
    timeoutMs,
    what,
  );
}
