import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { postgresUrl } from '../helpers/databases.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import type { Frame } from '../helpers/ws-client.ts';

/**
 * A user whose primary is lost or stolen cannot revoke it from another
 * device. The operator can (`npm run devices -- revoke`): the relay closes
 * the old primary within REVOCATION_SWEEP_SECONDS, hands the role to an
 * approved device, and that device then approves new ones. The CLI is a
 * separate process on the relay's database, so this runs on Postgres only
 * (PGlite serves one process).
 */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const cli = (env: Record<string, string>, ...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'src/devices/device-admin-cli.ts', ...args], { cwd: root, env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );

describe.skipIf(!postgresUrl)('primary recovery by the operator on postgres', () => {
  const fx = useRelay('postgres', { REVOCATION_SWEEP_SECONDS: '1' });

  it('revokes a lost primary, promotes the device named, which then approves a new one', async () => {
    const alice = uid('alice');
    const lost = await fx.accounts.online(alice, 'a1');
    const a2 = await fx.accounts.online(alice, 'a2');
    const a3 = await fx.accounts.online(alice, 'a3');

    // a2 cannot take the role itself: only a primary revokes a primary.
    a2.send({ type: 'device_revoke', id: 'r', payload: { device_id: 'a1' } });
    expect(await a2.next('error')).toMatchObject({ payload: { error_code: 'forbidden' } });

    const out = await cli(fx.db.env, 'revoke', '--user', alice, '--device', 'a1', '--promote', 'a3');
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ revoked: 'a1', user: alice, promoted: 'a3' });

    // The CLI publishes nothing: the node's sweep finds the revocation and closes the socket.
    expect(await lost.closed).toBe(4403);
    const isPromoted = (f: Frame) => f.type === 'devices' && (f.payload as { devices: { device_id: string; primary: boolean }[] }).devices.some((d) => d.device_id === 'a3' && d.primary);
    await a3.next(isPromoted);
    await a2.next(isPromoted);

    // The new primary approves a new device.
    fx.accounts.setPrimary(alice, 'a3');
    const a4 = await fx.accounts.online(alice, 'a4');
    await a4.close();
    // The old primary id is refused for good.
    const again = await cli(fx.db.env, 'revoke', '--user', alice, '--device', 'a1');
    expect(again.code).toBe(1);
    await Promise.all([a2.close(), a3.close()]);
  });

  it('refuses to promote a device that is not approved, and changes nothing', async () => {
    const bob = uid('bob');
    const b1 = await fx.accounts.online(bob, 'b1');
    const out = await cli(fx.db.env, 'revoke', '--user', bob, '--device', 'b1', '--promote', 'nobody');
    expect(out.code).toBe(1);
    b1.send({ type: 'heartbeat', payload: {} });
    expect(await b1.next('heartbeat_ack')).toMatchObject({ type: 'heartbeat_ack' });
    await b1.close();
  });
});
