import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Creates users `fan<i>` (i < users), each with `devices` approved devices
 * d1..dN (d1 primary), directly in a relay's database. Benchmark set-up
 * only: it stands in for the approval flow (code and signature), which is
 * not what the fan-out scenario measures. The rows carry placeholder keys
 * and no approval evidence, so a client verifying the device list would
 * reject them.
 */
export async function seedFanOutUsers(databaseUrl: string, users: number, devices: number): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const rows: string[][] = [];
    for (let u = 0; u < users; u++) {
      for (let d = 1; d <= devices; d++) rows.push([`fan${u}`, `d${d}`, String(d === 1), randomBytes(32).toString('base64')]);
    }
    await client.query(
      `insert into devices (user_id, device_id, created_at, last_seen_at, status, is_primary, device_name, device_type, identity_key, approved_at)
       select u, d, now(), now(), 'approved', p::boolean, 'bench', 'bench', k, now()
       from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as t(u, d, p, k)`,
      [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])],
    );
  } finally {
    await client.end();
  }
}
