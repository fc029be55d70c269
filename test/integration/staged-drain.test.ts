import { describe, expect, it } from 'vitest';
import { startRelay } from '../../tools/relay-process.ts';
import { Accounts } from '../helpers/accounts.ts';
import { createTestDatabase, postgresUrl } from '../helpers/databases.ts';
import { uid } from '../helpers/relay-fixture.ts';
import { TEST_SECRET } from '../helpers/tokens.ts';
import type { TestClient } from '../helpers/ws-client.ts';

/**
 * SIGTERM drains in stages: /readyz turns 503 while the node still
 * accepts, then the sockets close with 1001 spread over DRAIN_SECONDS.
 */
describe('a staged drain', () => {
  it('answers readyz 503 before the first 1001, and spreads the closes over the window', async () => {
    await Accounts.ready();
    const db = await createTestDatabase(postgresUrl ? 'postgres' : 'pglite');
    const relay = await startRelay({ ...db.env, JWT_SECRET: TEST_SECRET, DRAIN_READY_SECONDS: '1', DRAIN_SECONDS: '2' });
    try {
      const accounts = new Accounts(relay.url);
      const clients: TestClient[] = [];
      for (let i = 0; i < 20; i++) clients.push(await accounts.online(uid(`u${i}`), 'd1'));
      const closedAt: number[] = [];
      const codes: number[] = [];
      for (const c of clients)
        void c.closed.then((code) => {
          closedAt.push(Date.now());
          codes.push(code);
        });
      const readyz = async () => (await fetch(`http://127.0.0.1:${relay.port}/readyz`)).status;
      expect(await readyz()).toBe(200);

      const t0 = Date.now();
      relay.child.kill('SIGTERM');
      let notReadyAt: number | undefined;
      let acceptedWhileNotReady = false;
      while (notReadyAt === undefined && Date.now() - t0 < 3000) {
        if ((await readyz()) === 503) notReadyAt = Date.now();
        else await new Promise((r) => setTimeout(r, 20));
      }
      expect(notReadyAt).toBeDefined();
      // Not ready, but still serving: a device that connects now gets in (and is drained with the rest).
      const late = await accounts.online(uid('late'), 'd1');
      acceptedWhileNotReady = closedAt.length === 0;
      void late.closed.then((code) => {
        closedAt.push(Date.now());
        codes.push(code);
      });
      await relay.exited;

      expect(acceptedWhileNotReady).toBe(true);
      expect(codes).toHaveLength(21);
      expect(new Set(codes)).toEqual(new Set([1001]));
      const first = Math.min(...closedAt);
      const last = Math.max(...closedAt);
      expect(notReadyAt!).toBeLessThan(first);
      // The ready window (1 s) passes before the first close, and the closes span most of the 2 s window.
      expect(first - t0).toBeGreaterThanOrEqual(900);
      expect(last - first).toBeGreaterThanOrEqual(1500);
      console.log(`staged drain: readyz 503 after ${notReadyAt! - t0} ms, first 1001 after ${first - t0} ms, last after ${last - t0} ms`);
    } finally {
      await relay.stop('SIGKILL');
      await db.drop();
    }
  }, 60_000);
});
