import { describe, expect, it } from 'vitest';
import { backends } from '../helpers/databases.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { b64, TestClient, type Frame } from '../helpers/ws-client.ts';

/**
 * A retried frame is recognised only when it is the same frame: the same
 * kind, recipient and device set under the same id. Any other frame under a
 * used id is refused with `id_reused`, never acked as if it were stored.
 */
describe.each(backends)('message ids reused on %s', (kind) => {
  const fx = useRelay(kind);
  const online = (user: string, device: string) => fx.accounts.online(user, device);
  const send = (c: TestClient, id: string, to: string, devices: string[], type = 'send') =>
    c.send({
      type,
      id,
      payload: { to, messages: devices.map((d) => ({ device_id: d, ciphertext: b64(`${id} for ${to}`) })), ...(type === 'media_key' ? { media_id: 'md1', algorithm: 'aes-256-gcm' } : {}) },
    });
  const answerTo = (id: string) => (f: Frame) => (f.type === 'sent_ack' || f.type === 'error') && (f.message_id === id || f.id === id);

  it('refuses a send to another recipient under a used id with id_reused, and the first recipient alone gets it', async () => {
    const [alice, bob, carol] = [uid('alice'), uid('bob'), uid('carol')];
    const a = await online(alice, 'a1');
    const b = await online(bob, 'b1');
    const c = await online(carol, 'c1');
    send(a, 'm1', bob, ['b1']);
    expect(await a.next(answerTo('m1'))).toMatchObject({ type: 'sent_ack' });
    send(a, 'm1', carol, ['c1']);
    expect(await a.next(answerTo('m1'))).toMatchObject({ type: 'error', id: 'm1', payload: { error_code: 'id_reused' } });
    // Carol got nothing now, and nothing is queued for her: a new connection finds an empty queue.
    expect(await b.next('deliver')).toMatchObject({ message_id: 'm1', sender_id: alice });
    await c.close();
    const c2 = await TestClient.connect(fx.relay.url, carol, 'c1');
    await c2.next('queue_empty');
    expect(c2.all('deliver')).toHaveLength(0);
    // The same frame again, even while Bob has not acked, is a retry: acked, not delivered twice.
    send(a, 'm1', bob, ['b1']);
    expect(await a.next(answerTo('m1'))).toMatchObject({ type: 'sent_ack' });
    await new Promise((r) => setTimeout(r, 200));
    expect(b.all('deliver').filter((f) => f.message_id === 'm1')).toHaveLength(1);
    await Promise.all([a.close(), b.close(), c2.close()]);
  });

  it('refuses a media_key or a sync frame under the id of a send, and another device set under a used id', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await online(alice, 'a1');
    const a2 = await online(alice, 'a2');
    const b1 = await online(bob, 'b1');
    const b2 = await online(bob, 'b2');
    send(a, 'm2', bob, ['b1', 'b2']);
    expect(await a.next(answerTo('m2'))).toMatchObject({ type: 'sent_ack' });
    send(a, 'm2', bob, ['b1', 'b2'], 'media_key');
    expect(await a.next(answerTo('m2'))).toMatchObject({ type: 'error', payload: { error_code: 'id_reused' } });
    a.send({ type: 'sync_data', id: 'm2', payload: { device_id: 'a2', ciphertext: b64('history') } });
    expect(await a.next(answerTo('m2'))).toMatchObject({ type: 'error', payload: { error_code: 'id_reused' } });
    // The device list in another order is the same frame: a retry.
    send(a, 'm2', bob, ['b2', 'b1']);
    expect(await a.next(answerTo('m2'))).toMatchObject({ type: 'sent_ack' });
    await new Promise((r) => setTimeout(r, 200));
    expect(a2.all('sync_data')).toHaveLength(0);
    expect(b1.all('deliver').map((f) => f.message_id)).toEqual(['m2']);
    expect(b1.all('media_key')).toHaveLength(0);
    expect(b2.all('deliver').map((f) => f.message_id)).toEqual(['m2']);
    await Promise.all([a.close(), a2.close(), b1.close(), b2.close()]);
  });
});
