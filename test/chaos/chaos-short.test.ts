import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { hasPostgresServer } from '../../tools/throwaway-postgres.ts';
import { hasRedisServer } from '../../tools/throwaway-redis.ts';

/**
 * A short `npm run chaos` (60 s of traffic, a fixed seed: nine faults, one
 * of each kind) on a private Redis and Postgres: every message with a
 * sent_ack arrives, in the order the relay stored it. The long runs and
 * their figures are in docs/operations.md.
 */
const root = path.resolve(import.meta.dirname, '../..');
const can = hasPostgresServer && hasRedisServer;
if (!can) console.warn('chaos run skipped: it needs redis-server and the PostgreSQL server binaries to start private ones');

describe.skipIf(!can)('chaos, short', () => {
  it('loses nothing acked and keeps the stored order through nine faults', { timeout: 240_000 }, async () => {
    const json = path.join(mkdtempSync(path.join(tmpdir(), 'chaos-')), 'run.json');
    const run = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'tools/chaos/run.ts', '--seconds', '60', '--seed', '11', '--pairs', '8', '--json', json], {
      cwd: root,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'] },
      maxBuffer: 64 * 1024 * 1024,
    }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? -1, out: e.stdout ?? '' }),
    );
    const report = JSON.parse(readFileSync(json, 'utf8')) as { faults: unknown[]; summary: { acked: number; delivered: number; lost: number; orderBreaks: number } };
    expect(
      run.code,
      run.out
        .split('\n')
        .filter((l) => !l.startsWith('[node'))
        .join('\n'),
    ).toBe(0);
    expect(report.faults.length).toBeGreaterThanOrEqual(8);
    expect(report.summary.acked).toBeGreaterThan(4000);
    expect(report.summary.lost).toBe(0);
    expect(report.summary.orderBreaks).toBe(0);
  });
});
