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
    expect(a.all('presence').at(-1)?.payload['contacts']).toEqual([{ user_id: z, online: true }]);
    await Promise.all([a.close(), zc.close()]);
  });
});
