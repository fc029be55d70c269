/**
 * `npm run bench:queue [-- --rounds 3 --rows 100000 --preload 200000]`: the
 * queue store on the partitioned table (migration 0007) against the single
 * table before it, on the Postgres of DATABASE_URL, in alternating rounds.
 * Each round takes a fresh database migrated to one layout, fills it with
 * `--preload` rows of other devices (a queue that already holds a backlog),
 * then stores `--rows` entries for 5,000 devices in batches of 1,000, as
 * the group-commit writer does, and drains them as reconnecting devices
 * would: each device's backlog read in pages of 200, and acked, so deleted
 * by key in batches of 1,000. Prints rows per second and the ratio.
 */
import { parseArgs } from 'node:util';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { migrationProvider } from '../migrations/index.ts';
import type { Database } from '../src/db/schema.ts';
import { PostgresQueueStore } from '../src/delivery/postgres-queue-store.ts';
import { newEntry, type QueueEntry } from '../src/delivery/queue-entry.ts';
import type { EntryKey } from '../src/delivery/queue-store.ts';
import { benchDatabase } from './lib/targets.ts';
import { median } from './lib/stats.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, rows: { type: 'string', default: '100000' }, preload: { type: 'string', default: '200000' } } });
const rounds = Number(values.rounds);
const rows = Number(values.rows);
const preload = Number(values.preload);
const devices = 5000;
if (!process.env['DATABASE_URL']) {
  console.error('bench:queue needs DATABASE_URL (a Postgres server)');
  process.exit(1);
}

const layouts = { 'one table (0006)': '2026-12-06-0006-push-targets', 'partitioned (0007)': '2026-12-07-0007-queue-partitions' } as const;
type Layout = keyof typeof layouts;
const frame = JSON.stringify({ type: 'deliver', payload: { ciphertext: Buffer.alloc(256, 7).toString('base64') } });
const entry = (user: string, device: string, key: string): QueueEntry =>
  newEntry({ recipientUser: user, recipientDevice: device, dedupKey: key, messageId: key, kind: 'deliver', senderUser: 's', senderDevice: 'sd', frame, createdAt: new Date() });

async function round(layout: Layout): Promise<{ store: number; drain: number }> {
  const target = await benchDatabase();
  const pool = new pg.Pool({ connectionString: target.url, max: 4 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    const r = await new Migrator({ db, provider: migrationProvider, migrationTableName: 'relay_migrations', migrationLockTableName: 'relay_migrations_lock' }).migrateTo(layouts[layout]);
    if (r.error) throw r.error;
    const store = new PostgresQueueStore(db, 60_000);
    const inBatches = async (all: QueueEntry[]) => {
      for (let i = 0; i < all.length; i += 1000) await store.commit(all.slice(i, i + 1000), []);
    };
    await inBatches(Array.from({ length: preload }, (_, i) => entry('old', `o${i % 20_000}`, `p${i}`)));
    await sql`analyze queue`.execute(db);
    const fresh = Array.from({ length: rows }, (_, i) => entry('u', `d${i % devices}`, `k${i}`));
    let t = performance.now();
    await inBatches(fresh);
    const storeSec = (performance.now() - t) / 1000;
    t = performance.now();
    let acks: EntryKey[] = [];
    for (let d = 0; d < devices; d++) {
      let after = '0';
      for (;;) {
        const page = await store.readBacklog('u', `d${d}`, after, 200);
        if (page.length === 0) break;
        after = page.at(-1)!.seq;
        acks.push(...page.map((p) => p.entry));
        if (acks.length >= 1000) {
          await store.commit([], acks);
          acks = [];
        }
        if (page.length < 200) break;
      }
    }
    if (acks.length) await store.commit([], acks);
    const drainSec = (performance.now() - t) / 1000;
    if ((await store.countFor('u', 'd0')) !== 0) throw new Error('drain left rows behind');
    return { store: rows / storeSec, drain: rows / drainSec };
  } finally {
    await db.destroy();
    await target.drop();
  }
}

const results: Record<Layout, { store: number; drain: number }[]> = { 'one table (0006)': [], 'partitioned (0007)': [] };
for (let i = 0; i < rounds; i++) {
  for (const layout of Object.keys(layouts) as Layout[]) {
    const r = await round(layout);
    results[layout].push(r);
    console.error(`round ${i + 1} ${layout}: store ${Math.round(r.store)} rows/s, drain ${Math.round(r.drain)} rows/s`);
  }
}
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`\n## Queue layout: ${fmt(rows)} rows for ${fmt(devices)} devices over a queue of ${fmt(preload)}, median of ${rounds}\n`);
console.log('| layout | store rows/s | drain rows/s | store runs | drain runs |');
console.log('|---|---|---|---|---|');
for (const [layout, rs] of Object.entries(results)) {
  console.log(
    `| ${layout} | ${fmt(median(rs.map((r) => r.store)))} | ${fmt(median(rs.map((r) => r.drain)))} | ${rs.map((r) => fmt(r.store)).join(', ')} | ${rs.map((r) => fmt(r.drain)).join(', ')} |`,
  );
}
const [one, part] = [results['one table (0006)'], results['partitioned (0007)']];
console.log(
  `\npartitioned / one table: store ${(median(part.map((r) => r.store)) / median(one.map((r) => r.store))).toFixed(2)}x, drain ${(median(part.map((r) => r.drain)) / median(one.map((r) => r.drain))).toFixed(2)}x`,
);
