import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useCluster } from '../helpers/cluster.ts';
import { postgresUrl } from '../helpers/databases.ts';
import { scrape, sample } from '../helpers/metrics.ts';
import { redisSkipReason, testRedis } from '../helpers/redis.ts';
import { uid } from '../helpers/relay-fixture.ts';
import { b64, type TestClient } from '../helpers/ws-client.ts';

/**
 * The operator's admin API against two relay nodes sharing one Postgres and
 * one Redis: a kick or a revocation asked of node A closes the socket a
 * device holds on node B, queue depth and purge read the real queue, and
 * nothing is answered without the admin token.
 */
const redis = await testRedis();
const skip = !postgresUrl || !redis;
if (skip) console.warn(`admin API tests skipped: ${!postgresUrl ? 'DATABASE_URL is not set (two nodes need one shared Postgres)' : redisSkipReason}`);

const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef';
const root = path.resolve(import.meta.dirname, '../..');

describe.skipIf(skip)('admin API on two nodes', () => {
  const cluster = useCluster(redis!, { adminA: { ADMIN_TOKEN }, adminB: { ADMIN_TOKEN } });
  const node = (i: number) => cluster.nodes[i]!;
  const call = async (i: number, method: string, route: string, opts: { token?: string | null; body?: unknown } = {}) => {
    const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
    const res = await fetch(`http://127.0.0.1:${node(i).adminPort}${route}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), 'content-type': 'application/json' },
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const send = (c: TestClient, id: string, to: string, device: string) => c.send({ type: 'send', id, payload: { to, messages: [{ device_id: device, ciphertext: b64(id) }] } });

  it('refuses every request without the admin token, a client JWT included, and counts the refusals', async () => {
    const before = await scrape(node(0).metricsPort);
    const user = uid('u');
    for (const token of [null, 'wrong-token-wrong-token-wrong-token', ADMIN_TOKEN.slice(0, -1)]) {
      const r = await call(0, 'GET', `/v1/users/${user}/devices`, { token });
      expect(r).toEqual({ status: 401, body: expect.objectContaining({ error: 'unauthorized' }) });
    }
    // Not even whether a route exists is said without the token.
    expect((await call(0, 'GET', '/v1/nothing', { token: null })).status).toBe(401);
    const after = await scrape(node(0).metricsPort);
    const key = 'relay_admin_requests_total{action="list_devices",outcome="unauthorized"}';
    expect(sample(after, key) - sample(before, key)).toBe(3);
  });

  it('kicks a device connected to node B from node A with 4410, and every device of a user on both nodes', async () => {
    const alice = uid('alice');
    const a1 = await cluster.accounts.online(alice, 'a1', node(1).url);
    const a2 = await cluster.accounts.online(alice, 'a2', node(0).url);
    const kicked = await call(0, 'POST', `/v1/users/${alice}/devices/a1/kick`);
    expect(kicked).toEqual({ status: 200, body: { user: alice, device: 'a1', closed_here: 0, other_nodes_reached: 1 } });
    expect(await a1.closed).toBe(4410);
    // The other device stays.
    await new Promise((r) => setTimeout(r, 200));
    expect(a2.closeCode).toBeUndefined();

    const again = await cluster.accounts.online(alice, 'a1', node(1).url);
    const all = await call(0, 'POST', `/v1/users/${alice}/kick`);
    expect(all.body).toMatchObject({ closed_here: 1, other_nodes_reached: 1 });
    expect(await Promise.all([again.closed, a2.closed])).toEqual([4410, 4410]);

    expect((await call(0, 'POST', `/v1/users/${alice}/devices/nobody/kick`)).status).toBe(404);
    const metrics = await scrape(node(0).metricsPort);
    expect(sample(metrics, 'relay_admin_requests_total{action="kick_device",outcome="ok"}')).toBe(1);
    expect(sample(metrics, 'relay_admin_requests_total{action="kick_user",outcome="ok"}')).toBe(1);
    expect(sample(metrics, 'relay_admin_requests_total{action="kick_device",outcome="unknown_device"}')).toBe(1);
    // Each action is logged on the node that ran it, with who it was about; refusals are logged as warnings.
    const logged = node(0)
      .logs.filter((l) => l.includes('"admin action"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toContainEqual(expect.objectContaining({ level: 'info', action: 'kick_device', outcome: 'ok', user: alice, device: 'a1', status: 200 }));
    expect(node(0).logs.some((l) => l.includes('"admin request refused"') && l.includes('"level":"warn"'))).toBe(true);
    // The kicked node counted the close code.
    expect(sample(await scrape(node(1).metricsPort), 'relay_socket_closes_total{code="4410"}')).toBeGreaterThanOrEqual(2);
  });

  it("shows a device's queue depth and oldest entry, purges it, and the device then gets nothing", async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await cluster.accounts.online(alice, 'a1', node(0).url);
    const b = await cluster.accounts.online(bob, 'b1', node(1).url);
    await b.close();
    const sentFrom = Date.now();
    for (const id of ['q1', 'q2', 'q3']) send(a, id, bob, 'b1');
    for (const id of ['q1', 'q2', 'q3']) await a.next((f) => f.type === 'sent_ack' && f.message_id === id);
    const stats = await call(1, 'GET', `/v1/users/${bob}/devices/b1/queue`);
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ user: bob, device: 'b1', depth: 3 });
    expect(Date.parse(String(stats.body['oldest']))).toBeGreaterThanOrEqual(sentFrom - 1000);

    const list = await call(1, 'GET', `/v1/users/${bob}/devices`);
    expect(list.body['devices']).toEqual([expect.objectContaining({ device_id: 'b1', status: 'approved', primary: true, connected: false, queue: { depth: 3, oldest: stats.body['oldest'] } })]);

    expect(await call(1, 'DELETE', `/v1/users/${bob}/devices/b1/queue`)).toEqual({ status: 200, body: { user: bob, device: 'b1', purged: 3 } });
    expect((await call(0, 'GET', `/v1/users/${bob}/devices/b1/queue`)).body).toMatchObject({ depth: 0, oldest: null });
    const back = await cluster.accounts.online(bob, 'b1', node(1).url);
    expect(back.all('deliver')).toEqual([]);
    await Promise.all([a.close(), back.close()]);
  });

  it("lists a user's devices with their state and where they are connected", async () => {
    const carol = uid('carol');
    const c1 = await cluster.accounts.online(carol, 'c1', node(0).url);
    const c2 = await cluster.accounts.online(carol, 'c2', node(1).url);
    const seenFrom = node(0);
    const r = await call(0, 'GET', `/v1/users/${carol}/devices`);
    expect(r.status).toBe(200);
    const devices = r.body['devices'] as Record<string, unknown>[];
    expect(devices.map((d) => [d['device_id'], d['status'], d['primary'], d['connected'], d['connected_here']])).toEqual([
      ['c1', 'approved', true, true, true],
      ['c2', 'approved', false, true, false],
    ]);
    expect(seenFrom.adminPort).not.toBe(node(1).adminPort);
    expect((await call(0, 'GET', `/v1/users/${uid('nobody')}/devices`)).status).toBe(404);
    expect((await call(0, 'GET', `/v1/users/bad%20id/devices`)).body).toMatchObject({ error: 'bad_id' });
    expect((await call(0, 'PUT', `/v1/users/${carol}/devices`)).status).toBe(405);
    await Promise.all([c1.close(), c2.close()]);
  });

  it('revokes a lost primary from node A while it is connected to node B: 4403 there, the next primary promoted, the others told', async () => {
    const dave = uid('dave');
    const d1 = await cluster.accounts.online(dave, 'd1', node(1).url);
    const d2 = await cluster.accounts.online(dave, 'd2', node(0).url);
    const d3 = await cluster.accounts.online(dave, 'd3', node(1).url);
    d2.skipReceived();
    const r = await call(0, 'POST', `/v1/users/${dave}/devices/d1/revoke`, { body: { promote: 'd3' } });
    expect(r).toEqual({ status: 200, body: { user: dave, revoked: 'd1', promoted: 'd3' } });
    expect(await d1.closed).toBe(4403);
    const list = await d2.next((f) => f.type === 'devices' && (f.payload['revoked'] as string[]).includes('d1'));
    expect((list.payload['devices'] as { device_id: string; primary: boolean }[]).map((d) => [d.device_id, d.primary])).toEqual([
      ['d2', false],
      ['d3', true],
    ]);
    expect((await call(1, 'POST', `/v1/users/${dave}/devices/d1/revoke`)).status).toBe(409);
    expect((await call(1, 'GET', `/v1/users/${dave}/devices`)).body['devices']).toEqual(expect.arrayContaining([expect.objectContaining({ device_id: 'd1', status: 'revoked', connected: false })]));
    await Promise.all([d2.close(), d3.close()]);
  });

  it('is driven by `npm run admin`, which exits 1 when the relay refuses', async () => {
    const erin = uid('erin');
    const e1 = await cluster.accounts.online(erin, 'e1', node(1).url);
    const run = (args: string[], token = ADMIN_TOKEN) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/admin/admin-cli.ts', ...args], {
        cwd: root,
        env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ADMIN_TOKEN: token, ADMIN_URL: `http://127.0.0.1:${node(0).adminPort}` },
      }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code?: number; stdout?: string }) => ({ code: e.code ?? -1, out: e.stdout ?? '' }),
      );
    const listed = await run(['devices', erin]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.out)).toMatchObject({ user: erin, devices: [{ device_id: 'e1', connected: true }] });
    const kicked = await run(['kick', erin, 'e1']);
    expect(JSON.parse(kicked.out)).toMatchObject({ closed_here: 0, other_nodes_reached: 1 });
    expect(await e1.closed).toBe(4410);
    const refused = await run(['queue', erin, 'e1'], 'not-the-admin-token-not-the-admin-token');
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.out)).toMatchObject({ error: 'unauthorized' });
    expect((await run(['frobnicate', erin])).code).toBe(2);
  });
});
