import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';

/** Who lists whom as a contact, in Postgres. Presence flows between mutual contacts only. */
export class ContactStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Adds the contact unless `owner` lists `max` already: 'full' then, and
   * nothing is written. The count and the insert are one statement; two
   * adds racing from two devices of one user may pass the cap by one.
   */
  async add(owner: string, contact: string, now: number, max: number): Promise<'added' | 'full'> {
    const result = await withTimeout(
      sql`insert into contacts (owner_id, contact_id, created_at)
          select ${owner}, ${contact}, ${new Date(now)}
          where (select count(*) from contacts where owner_id = ${owner}) < ${max}
          on conflict do nothing`.execute(this.db),
      this.timeoutMs,
      'contact add',
    );
    if (Number(result.numAffectedRows ?? 0) > 0) return 'added';
    // Nothing written: the contact was listed already (an add is idempotent), or the list is full.
    const listed = await withTimeout(
      this.db.selectFrom('contacts').select('contact_id').where('owner_id', '=', owner).where('contact_id', '=', contact).executeTakeFirst(),
      this.timeoutMs,
      'contact add',
    );
    return listed ? 'added' : 'full';
  }

  async remove(owner: string, contact: string): Promise<void> {
    await withTimeout(this.db.deleteFrom('contacts').where('owner_id', '=', owner).where('contact_id', '=', contact).execute(), this.timeoutMs, 'contact remove');
  }

  /** Users who list `user` and whom `user` lists. */
  async mutual(user: string): Promise<string[]> {
    const rows = await withTimeout(
      this.db
        .selectFrom('contacts as c')
        .innerJoin('contacts as r', (j) => j.onRef('r.owner_id', '=', 'c.contact_id').onRef('r.contact_id', '=', 'c.owner_id'))
        .select('c.contact_id')
        .where('c.owner_id', '=', user)
        .execute(),
      this.timeoutMs,
      'mutual contacts',
    );
    return rows.map((r) => r.contact_id);
  }

  async isMutual(a: string, b: string): Promise<boolean> {
    const rows = await withTimeout(
      this.db
        .selectFrom('contacts')
        .select('owner_id')
        .where((w) => w.or([w.and([w('owner_id', '=', a), w('contact_id', '=', b)]), w.and([w('owner_id', '=', b), w('contact_id', '=', a)])]))
        .execute(),
      this.timeoutMs,
      'mutual contacts',
    );
    return rows.length === 2;
  }
}
