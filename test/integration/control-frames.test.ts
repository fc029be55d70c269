import { describe, expect, it } from 'vitest';
import { backends } from '../helpers/databases.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import type { Frame, TestClient } from '../helpers/ws-client.ts';

/** One user lists at most MAX_CONTACTS_PER_USER contacts; past that, contact_add is refused and writes nothing. */
describe.each(backends)('the contact cap on %s', (kind) => {
  const fx = useRelay(kind, { MAX_CONTACTS_PER_USER: '2' });
  /** Adds the contact and returns the error it got, if any (a heartbeat after it marks the end of its answers). */
  const add = async (c: TestClient, other: string): Promise<Frame | undefined> => {
    const from = c.frames.length;
    c.send({ type: 'contact_add', id: `add-${other}`, payload: { user_id: other } });
    c.send({ type: 'heartbeat', payload: {} });
    await c.next('heartbeat_ack');
    return c.frames.slice(from).find((f) => f.type === 'error');
  };

  it('refuses the contact past the cap with contact_limit, lets a listed one be added again, and frees a place on remove', async () => {
    const [alice, x, y, z] = [uid('alice'), uid('x'), uid('y'), uid('z')];
    const a = await fx.accounts.online(alice, 'a1');
    expect(await add(a, x)).toBeUndefined();
    expect(await add(a, y)).toBeUndefined();
    expect(await add(a, z)).toMatchObject({ id: `add-${z}`, payload: { error_code: 'contact_limit', max: 2 } });
    expect(await add(a, x)).toBeUndefined();
    // z was not written: when it adds alice back, the pair is not mutual, so alice gets no presence for it.
    const zc = await fx.accounts.online(z, 'z1');
    expect(await add(zc, alice)).toBeUndefined();
    expect(zc.all('presence').flatMap((f) => f.payload['contacts'] as unknown[])).toEqual([]);
    a.send({ type: 'contact_remove', payload: { user_id: y } });
    expect(await add(a, z)).toBeUndefined();
    // Now mutual: alice's add answers with z's presence.
    expect(a.all('presence').at(-1)?.payload['contacts']).toMatchObject([{ user_id: z, online: true, status: 'online' }]);
    await Promise.all([a.close(), zc.close()]);
  });
});

/** Control frames read or write the database outside the write queue, so they spend a budget of their own. */
describe('the control frame budget', () => {
  const fx = useRelay('pglite', { RATE_CONTROL_BURST: '3', RATE_CONTROL_PER_SECOND: '0.01' });

  it('limits device and contact frames together past the burst, and leaves messages and heartbeats alone', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await fx.accounts.online(alice, 'a1');
    // device_register took the first of three; two are left.
    a.send({ type: 'devices_list', id: 'l1', payload: { user_id: alice } });
    expect(await a.next('devices')).toMatchObject({ payload: { user_id: alice } });
    a.send({ type: 'contact_add', id: 'c1', payload: { user_id: bob } });
    a.send({ type: 'contact_remove', id: 'c2', payload: { user_id: bob } });
    expect(await a.next('error')).toMatchObject({ id: 'c2', payload: { error_code: 'rate_limited' } });
    a.send({ type: 'devices_list', id: 'l3', payload: { user_id: alice } });
    expect(await a.next('error')).toMatchObject({ id: 'l3', payload: { error_code: 'rate_limited' } });
    expect(a.frames.filter((f) => f.type === 'error').map((f) => f.id)).toEqual(['c2', 'l3']);
    a.send({ type: 'heartbeat', payload: {} });
    await a.next('heartbeat_ack');
    a.send({ type: 'send', id: 'm1', payload: { to: alice, messages: [] } });
    expect(await a.next((f) => f.message_id === 'm1' || f.id === 'm1')).not.toMatchObject({ payload: { error_code: 'rate_limited' } });
    await a.close();
  });
});
