import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startRelay, tempDir, freePort } from '../../tools/relay-process.ts';
import { sample, scrape } from '../../tools/metrics-scrape.ts';
import { Accounts } from '../helpers/accounts.ts';
import { createTestDatabase, postgresUrl } from '../helpers/databases.ts';
import { uid } from '../helpers/relay-fixture.ts';
import { redisSkipReason, testRedis } from '../helpers/redis.ts';
import { TEST_SECRET } from '../helpers/tokens.ts';
import { b64 } from '../helpers/ws-client.ts';

/**
 * WORKERS=2: one supervisor, two relay processes on one port, each a node
 * of the cluster, with Postgres and Redis between them as between hosts.
 */
const redis = postgresUrl ? await testRedis() : undefined;
if (!postgresUrl || !redis) console.warn(`workers test skipped: ${!postgresUrl ? 'DATABASE_URL is not set (workers share one Postgres)' : redisSkipReason}`);

const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/** A free port whose next one is free too, for the two workers' metrics listeners. */
async function freePair(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (await bindable(p + 1)) return p;
  }
}

/** Every worker process the supervisor logged starting. */
const workerPids = (logs: readonly string[]) => logs.filter((l) => l.includes('"msg":"worker started"')).map((l) => JSON.parse(l)['pid'] as number);

describe.skipIf(!postgresUrl || !redis)('WORKERS=2 on one host', () => {
  it('shares one port between two nodes, delivers across them, starts a dead worker again, and drains both on SIGTERM', async () => {
    const db = await createTestDatabase('postgres');
    const [port, metrics] = [await freePort(), await freePair()];
    const relay = await startRelay({ ...db.env, ...redis!.env, JWT_SECRET: TEST_SECRET, DATA_DIR: tempDir('workers'), WORKERS: '2', PORT: String(port), METRICS_PORT: String(metrics) });
    try {
      const listening = () => relay.logs.filter((l) => l.includes('"msg":"relay listening"')).length;
      for (let i = 0; i < 100 && listening() < 2; i++) await new Promise((r) => setTimeout(r, 100));
      expect(listening()).toBe(2);
      const accounts = new Accounts(relay.url);
      const users = Array.from({ length: 16 }, () => uid('w'));
      const clients = await Promise.all(users.map((u) => accounts.online(u, 'd1')));
      // The kernel spread the connections over both workers, each on its own metrics port.
      const connections = await Promise.all([metrics, metrics + 1].map(async (p) => sample(await scrape(p), 'relay_connections')));
      expect(connections.reduce((a, b) => a + b, 0)).toBe(users.length);
      expect(Math.min(...connections)).toBeGreaterThan(0);
      // Each user writes to the next: some of these cross from one worker to the other.
      for (const [i, u] of users.entries()) {
        clients[i]!.send({ type: 'send', id: `w${i}`, payload: { to: users[(i + 1) % users.length], messages: [{ device_id: 'd1', ciphertext: b64(u) }] } });
      }
      for (const [i, c] of clients.entries()) {
        const from = (i + users.length - 1) % users.length;
        await c.next((f) => f.type === 'deliver' && f.message_id === `w${from}`);
      }
      await Promise.all(clients.map((c) => c.close()));
      // A worker that dies is started again, on the same ports.
      process.kill(workerPids(relay.logs)[1]!, 'SIGKILL');
      for (let i = 0; i < 100 && listening() < 3; i++) await new Promise((r) => setTimeout(r, 100));
      expect(listening()).toBe(3);
      expect(relay.logs.some((l) => l.includes('worker exited; starting it again'))).toBe(true);
      expect(sample(await scrape(metrics + 1), 'relay_connections')).toBe(0);
      // SIGTERM reaches both workers through the supervisor; it exits once they have drained.
      expect(await relay.stop('SIGTERM')).toBe(0);
      expect(relay.logs.filter((l) => l.includes('"msg":"stopped"')).length).toBe(2);
    } finally {
      await relay.stop('SIGKILL');
      for (const pid of workerPids(relay.logs)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await db.drop();
      await redis!.stop();
    }
  });
});
