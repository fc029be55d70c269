import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { withTimeout } from '../util/with-timeout.ts';

/** Who lists whom as a contact, in Postgres. Presence flows between mutual contacts only. */
export class ContactStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly timeoutMs: number,
  ) {}

  async add(owner: string, contact: string, now: number): Promise<void> {
    await withTimeout(
      this.db.insertInto('contacts').values({ owner_id: owner, contact_id: contact, created_at: new Date(now) }).onConflict((oc) => oc.doNothing()).execute(),
      this.timeoutMs,
      'contact add',
    );
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
    return (await this.mutual(a)).includes(b);
  }
}
