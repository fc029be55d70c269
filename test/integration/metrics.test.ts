import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { postgresUrl } from '../helpers/databases.ts';
import { sample, scrape } from '../helpers/metrics.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { b64, TestClient, upgradeStatus } from '../helpers/ws-client.ts';

/**
 * GET /metrics from a real relay under traffic: each counter moves by what
 * the test did, read as the difference of two scrapes. Postgres when
 * DATABASE_URL is set, else PGlite.
 */
const root = path.resolve(import.meta.dirname, '../..');

describe('Prometheus metrics', () => {
  const fx = useRelay(postgresUrl ? 'postgres' : 'pglite');
  const metrics = () => scrape(fx.relay.metricsPort);

  it('serves /metrics on its own port only, with the process metrics', async () => {
    expect(fx.relay.metricsPort).not.toBe(fx.relay.port);
    const publicAttempt = await fetch(`http://127.0.0.1:${fx.relay.port}/metrics`);
    expect(publicAttempt.status).toBe(404);
    const m = await metrics();
    expect(m.get('relay_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.has('relay_write_queue_depth')).toBe(true);
  });

  it('counts frames, sent_acks, errors, connections, closes, refusals and approvals by what happened', async () => {
    const before = await metrics();
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await fx.accounts.online(alice, 'a1');
    const b = await fx.accounts.online(bob, 'b1');
    const during = await metrics();
    expect(sample(during, 'relay_connections') - sample(before, 'relay_connections')).toBe(2);
    expect(sample(during, 'relay_devices_online') - sample(before, 'relay_devices_online')).toBe(2);
    // Two first devices, each its user's primary.
    expect(sample(during, 'relay_approval_outcomes_total{action="register",outcome="primary"}') - sample(before, 'relay_approval_outcomes_total{action="register",outcome="primary"}')).toBe(2);

    await b.close();
    // Five messages to bob, who is offline: each is written and sent_acked after its commit.
    for (let i = 0; i < 5; i++) {
      a.send({ type: 'send', id: `m${i}`, payload: { to: bob, messages: [{ device_id: 'b1', ciphertext: b64(`m${i}`) }] } });
      await a.next((f) => f.type === 'sent_ack' && f.message_id === `m${i}`);
    }
    a.send({ type: 'send', id: 'bad', payload: { to: bob } });
    await a.next('error');
    a.sendRaw('not json');
    await a.next('error');
    expect(await upgradeStatus(fx.relay.url, { headers: { authorization: 'Bearer not-a-token' } })).toBe(401);
    const c = await TestClient.connect(fx.relay.url, uid('carol'), 'c1');
    c.ws.close(4000, 'bye');
    await c.closed;
    await new Promise((r) => setTimeout(r, 200));

    const after = await metrics();
    const delta = (key: string) => sample(after, key) - sample(during, key);
    expect(delta('relay_frames_in_total{type="send"}')).toBe(5);
    expect(delta('relay_sent_ack_seconds_count')).toBe(5);
    expect(delta('relay_sent_ack_seconds_sum')).toBeGreaterThan(0);
    expect(delta('relay_error_frames_total{code="invalid_message"}')).toBe(1);
    expect(delta('relay_error_frames_total{code="invalid_frame"}')).toBe(1);
    expect(delta('relay_garbage_frames_total')).toBe(2);
    expect(delta('relay_upgrades_refused_total{status="401"}')).toBe(1);
    expect(delta('relay_socket_closes_total{code="4000"}')).toBe(1);
    expect(delta('relay_connections')).toBe(-1);
    // Five inserts, in one batch or several.
    expect(delta('relay_commit_batch_operations_sum')).toBeGreaterThanOrEqual(5);
    expect(delta('relay_commit_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'relay_commit_seconds_bucket{le="+Inf"}')).toBe(sample(after, 'relay_commit_seconds_count'));
    expect(delta('relay_frames_out_total')).toBeGreaterThanOrEqual(7);
    expect(delta('relay_frames_out_by_type_total{type="sent_ack"}')).toBe(5);
    expect(delta('relay_frames_out_by_type_total{type="error"}')).toBe(2);

    // Bob comes back for his five messages: five deliver frames out, then queue_empty.
    const back = await TestClient.connect(fx.relay.url, bob, 'b1');
    await back.next('queue_empty');
    const drained = await metrics();
    const since = (key: string) => sample(drained, key) - sample(after, key);
    expect(since('relay_frames_out_by_type_total{type="deliver"}')).toBe(5);
    expect(since('relay_frames_out_by_type_total{type="queue_empty"}')).toBe(1);
    await Promise.all([a.close(), back.close()]);
  });

  it('documents every metric it serves, and the Grafana dashboard queries only metrics it serves', async () => {
    const res = await fetch(`http://127.0.0.1:${fx.relay.metricsPort}/metrics`);
    const names = new Set([...(await res.text()).matchAll(/^# TYPE (relay_\w+) /gm)].map((m) => m[1]!));
    const own = [...names].filter((n) => !n.startsWith('relay_process_') && !n.startsWith('relay_nodejs_'));
    expect(own.length).toBeGreaterThan(30);
    const doc = readFileSync(path.join(root, 'docs/operations.md'), 'utf8');
    for (const n of own) expect(doc, n).toContain(`\`${n}\``);

    const dashboard = readFileSync(path.join(root, 'deploy/grafana/relay-dashboard.json'), 'utf8');
    const queried = new Set([...dashboard.matchAll(/relay_\w+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
    expect(queried.size).toBeGreaterThan(25);
    for (const q of queried) expect(names.has(q), q).toBe(true);
  });
});
