import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Accounts } from '../helpers/accounts.ts';
import { uid } from '../helpers/relay-fixture.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { startRelay, type RelayProcess } from '../../tools/relay-process.ts';
import { TEST_SECRET } from '../helpers/tokens.ts';
import type { TestClient } from '../helpers/ws-client.ts';

/** Presence on one node (in-memory leases), seen by real clients. */
describe('presence between mutual contacts', () => {
  let db: TestDatabase;
  let relay: RelayProcess;
  let accounts: Accounts;
  beforeAll(async () => {
    await Accounts.ready();
    db = await createTestDatabase('pglite');
    relay = await startRelay({ ...db.env, JWT_SECRET: TEST_SECRET, PRESENCE_GRACE_SECONDS: '1', PRESENCE_TTL_SECONDS: '3', PRESENCE_REAP_MS: '200' });
    accounts = new Accounts(relay.url);
  });
  afterAll(async () => {
    await relay.stop();
  });
  const addContact = async (c: TestClient, other: string) => {
    c.send({ type: 'contact_add', payload: { user_id: other } });
    c.send({ type: 'heartbeat' });
    await c.next('heartbeat_ack');
  };

  it('tells mutual contacts only, with a snapshot on connect and online/offline after', async () => {
    const [alice, bob, carol] = [uid('alice'), uid('bob'), uid('carol')];
    const b = await accounts.online(bob, 'b1');
    const c = await accounts.online(carol, 'c1');
    const a0 = await accounts.online(alice, 'a1');
    await addContact(a0, bob);
    await addContact(b, alice);
    await addContact(c, alice); // one-way: carol lists alice, alice does not list carol
    await a0.close();
    await b.next((f) => f.type === 'user_offline' && f.payload['user_id'] === alice, 5000);

    const a = await accounts.online(alice, 'a1');
    expect(await b.next((f) => f.type === 'user_online' && f.payload['user_id'] === alice)).toBeTruthy();
    const snapshot = await a.next('presence');
    expect(snapshot.payload['contacts']).toEqual([{ user_id: bob, online: true, status: 'online', devices: [{ device_id: 'b1', device_type: 'test', status: 'online' }] }]);
    await a.close();
    expect(await b.next((f) => f.type === 'user_offline' && f.payload['user_id'] === alice, 5000)).toBeTruthy();
    expect(c.frames.filter((f) => f.type === 'user_online' || f.type === 'user_offline')).toEqual([]);
    await Promise.all([b.close(), c.close()]);
  });

  it('does not flap when a device reconnects within the grace period', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await accounts.online(alice, 'a1');
    const b = await accounts.online(bob, 'b1');
    await addContact(a, bob);
    await addContact(b, alice);
    a.ws.terminate();
    await a.closed;
    const again = await accounts.online(alice, 'a1');
    await new Promise((r) => setTimeout(r, 2500));
    expect(b.frames.filter((f) => (f.type === 'user_online' || f.type === 'user_offline') && f.payload['user_id'] === alice)).toEqual([]);
    await Promise.all([again.close(), b.close()]);
  });
});
