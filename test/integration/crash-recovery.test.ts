import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, createTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { startRelay, type RelayProcess } from '../../tools/relay-process.ts';
import { TEST_SECRET } from '../helpers/tokens.ts';
import { Accounts } from '../helpers/accounts.ts';
import { b64, TestClient } from '../helpers/ws-client.ts';

/**
 * `sent_ack` is a promise that survives the relay: kill -9 after it, start
 * again on the same data, and the recipient still gets every message.
 */
describe.each(backends)('crash recovery on %s', (kind) => {
  let db: TestDatabase;
  let relay: RelayProcess | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await relay?.stop('SIGKILL');
    await db.drop();
  });

  it('loses nothing acked when the relay is killed with SIGKILL before delivery', async () => {
    const env = { ...db.env, JWT_SECRET: TEST_SECRET };
    relay = await startRelay(env);
    await Accounts.ready();
    const accounts = new Accounts(relay.url);
    await (await accounts.online('bob', 'b1')).close();
    const alice = await accounts.online('alice', 'a1');
    const ids = Array.from({ length: 50 }, (_, i) => `k${i}`);
    for (const id of ids) alice.send({ type: 'send', id, payload: { to: 'bob', messages: [{ device_id: 'b1', ciphertext: b64(id) }] } });
    for (const id of ids) await alice.next((f) => f.type === 'sent_ack' && f.message_id === id);

    relay.child.kill('SIGKILL');
    expect(await relay.exited).toBeNull();

    relay = await startRelay(env);
    const again = await TestClient.connect(relay.url, 'bob', 'b1');
    await again.next('queue_empty', 10_000);
    expect(again.all('deliver').map((f) => f.message_id)).toEqual(ids);
    expect(again.all('deliver').map((f) => f.payload.ciphertext)).toEqual(ids.map(b64));
    await again.close();
  });
});
