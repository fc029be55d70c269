import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/schema.ts';
import { DeviceRegistry, type AttemptLimit } from '../../src/devices/device-registry.ts';
import { StoredRateLimit } from '../../src/limits/stored-rate-limit.ts';
import { backends } from '../helpers/databases.ts';
import { openInProcess } from '../helpers/in-process-db.ts';

const key = Buffer.alloc(32, 7).toString('base64');
const input = (userId: string, deviceId: string) => ({ userId, deviceId, identityKey: key, name: deviceId, type: 'test', ip: '127.0.0.1', userAgent: 'test' });

describe.each(backends)('device registry on %s', (kind) => {
  let db: Kysely<Database>;
  let close: () => Promise<void>;
  let statements: string[];
  let registry: DeviceRegistry;
  /** Three registration attempts per user per minute, counted in the registry's transaction. */
  let limitOf: (user: string) => AttemptLimit;
  beforeAll(async () => {
    ({ db, close } = await openInProcess(kind));
    const counting = db.withPlugin({
      transformQuery: (args) => {
        statements.push(args.node.kind);
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    const limits = new StoredRateLimit(counting, 5_000);
    limitOf = (user) => (tx) => limits.hit([{ key: `register:${user}`, rule: { limit: 3, windowMs: 60_000 } }], Date.parse('2026-03-04T05:06:07Z'), tx);
    let n = 0;
    registry = new DeviceRegistry(
      counting,
      { maxDevices: 3, approvalTtlMs: 60_000, maxAttempts: 3, timeoutMs: 5_000 },
      () => false,
      () => `req-${++n}`,
      () => '123456',
    );
  });
  afterAll(async () => close());

  it('makes a first device primary in four statements and one commit, and returns the list it forms, row written or not', async () => {
    const now = Date.parse('2026-03-04T05:06:07Z');
    // No row yet: the device's first touch may still be batched when it registers.
    statements = [];
    const r = await registry.register(input('ann', 'phone'), now, limitOf('ann'));
    // The lock, the attempt count, one read of the device's status and the user's approved count, one upsert.
    expect(statements).toEqual(['RawNode', 'RawNode', 'SelectQueryNode', 'InsertQueryNode']);
    expect(r).toEqual({
      kind: 'primary',
      devices: [
        {
          deviceId: 'phone',
          deviceName: 'phone',
          deviceType: 'test',
          identityKey: key,
          isPrimary: true,
          approvedBy: null,
          approvalSignature: null,
          approvalRequest: null,
          approvedAt: new Date(now).toISOString(),
        },
      ],
    });
    expect(await registry.list('ann')).toEqual(r.kind === 'primary' ? r.devices : []);

    // A row written at the upgrade, as usual.
    await db
      .insertInto('devices')
      .values({ user_id: 'bob', device_id: 'tab', created_at: new Date(0), last_seen_at: new Date(0) })
      .execute();
    const b = await registry.register(input('bob', 'tab'), now, limitOf('bob'));
    expect(b.kind).toBe('primary');
    const row = await db.selectFrom('devices').selectAll().where('user_id', '=', 'bob').executeTakeFirstOrThrow();
    expect([row.status, row.is_primary, new Date(row.created_at).getTime()]).toEqual(['approved', true, 0]);
  });

  it('makes a second device pending, with or without its row, and refuses a registered one', async () => {
    const now = Date.parse('2026-03-04T05:06:07Z');
    const p = await registry.register(input('ann', 'laptop'), now, limitOf('ann'));
    expect(p).toMatchObject({ kind: 'pending', code: '123456', primaries: ['phone'] });
    const row = await db.selectFrom('devices').select(['status', 'is_primary']).where('user_id', '=', 'ann').where('device_id', '=', 'laptop').executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'pending', is_primary: false });
    expect(await registry.register(input('ann', 'phone'), now, limitOf('ann'))).toEqual({ kind: 'already_registered' });
  });

  it('refuses an attempt over the limit inside the transaction and keeps its count', async () => {
    const now = Date.parse('2026-03-04T05:06:07Z');
    // ann used her three attempts above (the last one refused as already registered, and counted all the same).
    expect(await registry.register(input('ann', 'watch'), now, limitOf('ann'))).toEqual({ kind: 'rate_limited', retryAfterSeconds: 60 });
    const row = await db.selectFrom('rate_limits').select('count').where('key', '=', 'register:ann').executeTakeFirstOrThrow();
    expect(Number(row.count)).toBe(4);
    expect(await db.selectFrom('devices').select('device_id').where('user_id', '=', 'ann').where('device_id', '=', 'watch').execute()).toEqual([]);
  });
});
