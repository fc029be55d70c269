import { describe, expect, it } from 'vitest';
import { backends } from '../helpers/databases.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { b64, TestClient, type Frame } from '../helpers/ws-client.ts';

/**
 * A read receipt reports only messages its user received from the user it
 * names; one frame stores at most MAX_RECEIPT_ROWS rows; receipts spend a
 * budget of their own, so they neither crowd out sends nor flood the queue.
 */
describe.each(backends)('read receipts on %s', (kind) => {
  const fx = useRelay(kind, { MAX_RECEIPT_ROWS: '6', RATE_RECEIPTS_BURST: '4', RATE_RECEIPTS_PER_SECOND: '0.01' });
  const online = (user: string, device: string) => fx.accounts.online(user, device);
  const send = (c: TestClient, id: string, to: string, devices: string[]) => c.send({ type: 'send', id, payload: { to, messages: devices.map((d) => ({ device_id: d, ciphertext: b64(id) })) } });
  const ack = (c: TestClient, ids: string[]) => c.send({ type: 'delivery_ack', payload: { message_ids: ids } });
  const read = (c: TestClient, to: string, ids: string[], id?: string) => c.send({ type: 'read_receipt', ...(id ? { id } : {}), payload: { to, message_ids: ids } });
  const isRead = (f: Frame) => f.type === 'status_update' && f.payload.status === 'read';
  /** Delivers each id from `from` to `to`'s listed devices and has the first of them ack it. */
  const deliverAll = async (from: TestClient, to: TestClient, toDevices: string[], ids: string[]) => {
    for (const id of ids) send(from, id, to.user, toDevices);
    for (const id of ids) await to.seen((f) => f.type === 'deliver' && f.message_id === id);
    ack(to, ids);
    for (const id of ids) await from.seen((f) => f.type === 'status_update' && f.message_id === id && f.payload.status === 'delivered');
  };
  /** What a fresh connection of `user`/`device` finds queued, once its backlog is through. */
  const queued = async (user: string, device: string) => {
    const c = await TestClient.connect(fx.relay.url, user, device);
    await c.next('queue_empty');
    await c.close();
    return c.frames.filter(isRead);
  };

  it('stores nothing for a receipt naming a user who never wrote to the reader, or ids it never received', async () => {
    const [alice, bob, mallory] = [uid('alice'), uid('bob'), uid('mallory')];
    const a = await online(alice, 'a1');
    const b = await online(bob, 'b1');
    const m = await online(mallory, 'm1');
    read(m, alice, ['x1', 'x2', 'x3']);
    await deliverAll(a, b, ['b1'], ['r1']);
    // Bob read r1, and claims two messages Alice never sent him.
    read(b, alice, ['r1', 'never-sent', 'x1']);
    expect(await a.next(isRead)).toMatchObject({ message_id: 'r1', payload: { recipient_id: bob } });
    await new Promise((r) => setTimeout(r, 300));
    expect(
      a
        .all('status_update')
        .filter(isRead)
        .map((f) => f.message_id),
    ).toEqual(['r1']);
    await a.close();
    // The one receipt is the only row queued for Alice: Mallory's stored nothing.
    const left = await queued(alice, 'a1');
    expect(left.map((f) => f.message_id)).toEqual(['r1']);
    expect(m.frames.some((f) => f.type === 'error')).toBe(false);
    await Promise.all([b.close(), m.close()]);
  });

  it('reports a message delivered to the reader and not acked yet', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await online(alice, 'a1');
    const b = await online(bob, 'b1');
    send(a, 'early', bob, ['b1']);
    await b.seen((f) => f.type === 'deliver' && f.message_id === 'early');
    read(b, alice, ['early']);
    ack(b, ['early']);
    expect(await a.next(isRead)).toMatchObject({ message_id: 'early', payload: { recipient_id: bob } });
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses a frame that would store more than MAX_RECEIPT_ROWS rows with too_many_receipts, and stores none of it', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a1 = await online(alice, 'a1');
    const a2 = await online(alice, 'a2');
    const a3 = await online(alice, 'a3');
    const b = await online(bob, 'b1');
    await deliverAll(a1, b, ['b1'], ['q1', 'q2', 'q3']);
    // Three ids to three devices is nine rows, over six: refused whole, with the most ids a frame may carry to Alice.
    read(b, alice, ['q1', 'q2', 'q3'], 'rr1');
    expect(await b.next('error')).toMatchObject({ id: 'rr1', payload: { error_code: 'too_many_receipts', max_ids: 2 } });
    read(b, alice, ['q1', 'q2'], 'rr2');
    for (const c of [a1, a2, a3]) expect(await c.next(isRead)).toMatchObject({ message_id: 'q1' });
    for (const c of [a1, a2, a3]) expect(await c.next(isRead)).toMatchObject({ message_id: 'q2' });
    await new Promise((r) => setTimeout(r, 300));
    for (const c of [a1, a2, a3])
      expect(
        c
          .all('status_update')
          .filter(isRead)
          .map((f) => f.message_id),
      ).toEqual(['q1', 'q2']);
    await Promise.all([a1.close(), a2.close(), a3.close(), b.close()]);
  });

  it('limits receipts on their own budget, leaving sends to go through', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await online(alice, 'a1');
    const b = await online(bob, 'b1');
    await deliverAll(a, b, ['b1'], ['s1']);
    for (let i = 0; i < 4; i++) read(b, alice, ['s1'], `ok${i}`);
    read(b, alice, ['s1'], 'over');
    expect(await b.next('error')).toMatchObject({ id: 'over', payload: { error_code: 'rate_limited' } });
    send(b, 'reply', alice, ['a1']);
    expect(await b.next('sent_ack')).toMatchObject({ message_id: 'reply' });
    expect(await a.next((f) => f.type === 'deliver' && f.message_id === 'reply')).toMatchObject({ sender_id: bob });
    await Promise.all([a.close(), b.close()]);
  });
});
