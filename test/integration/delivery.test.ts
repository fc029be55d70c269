import { describe, expect, it } from 'vitest';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { backends } from '../helpers/databases.ts';
import { b64, TestClient, type Frame } from '../helpers/ws-client.ts';

/** Durable delivery semantics against a real relay, on PGlite and on Postgres. */
describe.each(backends)('delivery on %s', (kind) => {
  const fx = useRelay(kind);
  const online = (user: string, device: string) => fx.accounts.online(user, device);
  const send = (c: TestClient, id: string, to: string, devices: string[], text = id) =>
    c.send({ type: 'send', id, payload: { to, messages: devices.map((d) => ({ device_id: d, ciphertext: b64(text) })), message_type: 'text' } });
  const ack = (c: TestClient, ids: string[]) => c.send({ type: 'delivery_ack', payload: { message_ids: ids } });
  const isFor = (id: string) => (f: Frame) => f.message_id === id;

  it('round trip: send, sent_ack, deliver, delivery_ack, status_update', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await online(alice, 'a1');
    const b = await online(bob, 'b1');
    send(a, 'm1', bob, ['b1'], 'hello');
    const d = await b.next('deliver');
    expect(d).toMatchObject({ message_id: 'm1', sender_id: alice, sender_device: 'a1', payload: { ciphertext: b64('hello'), message_type: 'text' } });
    expect(await a.next('sent_ack')).toMatchObject({ message_id: 'm1', payload: { status: 'sent' } });
    ack(b, ['m1']);
    const st = await a.next('status_update');
    expect(st).toMatchObject({ message_id: 'm1', payload: { status: 'delivered', recipient_id: bob, recipient_device: 'b1' } });
    // The sender acks the receipt; then both queues are empty.
    ack(a, ['m1']);
    b.send({ type: 'read_receipt', payload: { to: alice, message_ids: ['m1'] } });
    expect(await a.next('status_update')).toMatchObject({ message_id: 'm1', payload: { status: 'read' } });
    await Promise.all([a.close(), b.close()]);
  });

  it('one delivery_ack naming messages from several senders tells each sender about its own', async () => {
    const [alice, carol, bob] = [uid('alice'), uid('carol'), uid('bob')];
    const a = await online(alice, 'a1');
    const c = await online(carol, 'c1');
    const b = await online(bob, 'b1');
    send(a, 'ma1', bob, ['b1']);
    send(c, 'mc1', bob, ['b1']);
    send(a, 'ma2', bob, ['b1']);
    const typed = (type: string, id: string) => (f: Frame) => f.type === type && f.message_id === id;
    for (const id of ['ma1', 'mc1', 'ma2']) await b.seen(typed('deliver', id));
    ack(b, ['ma1', 'mc1', 'ma2']);
    expect(await a.next(typed('status_update', 'ma1'))).toMatchObject({ payload: { status: 'delivered', recipient_id: bob } });
    expect(await a.next(typed('status_update', 'ma2'))).toMatchObject({ payload: { status: 'delivered', recipient_id: bob } });
    expect(await c.next(typed('status_update', 'mc1'))).toMatchObject({ payload: { status: 'delivered', recipient_id: bob } });
    expect(a.all('status_update').map((f) => f.message_id)).toEqual(['ma1', 'ma2']);
    expect(c.all('status_update').map((f) => f.message_id)).toEqual(['mc1']);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('answers a device list that does not match with mismatched_devices and stores nothing', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await online(alice, 'a1');
    (await online(bob, 'b1')).ws.terminate();
    (await online(bob, 'b2')).ws.terminate();
    send(a, 'mx', bob, ['b1', 'b9']);
    const err = await a.next('error');
    expect(err).toMatchObject({ id: 'mx', payload: { error_code: 'mismatched_devices', missing: ['b2'], extra: ['b9'] } });
    send(a, 'my', uid('nobody'), ['x']);
    expect(await a.next('error')).toMatchObject({ id: 'my', payload: { error_code: 'unknown_recipient' } });
    // Nothing was stored for b1: it connects to an empty queue.
    const b1 = await TestClient.connect(fx.relay.url, bob, 'b1');
    await b1.next('queue_empty');
    expect(b1.all('deliver')).toHaveLength(0);
    // The corrected frame under the same id is a first send, not a reuse: nothing was stored for the refused one.
    send(a, 'mx', bob, ['b1', 'b2']);
    expect(await a.next((f) => f.message_id === 'mx' || f.id === 'mx')).toMatchObject({ type: 'sent_ack' });
    expect(await b1.next('deliver')).toMatchObject({ message_id: 'mx' });
    await Promise.all([a.close(), b1.close()]);
  });

  it('delivers to an offline device in order after it connects, then queue_empty', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    (await online(bob, 'b1')).ws.terminate();
    const a = await online(alice, 'a1');
    const ids = Array.from({ length: 25 }, (_, i) => `o${i}`);
    for (const id of ids) send(a, id, bob, ['b1']);
    for (const id of ids) await a.next(isFor(id));
    const b = await TestClient.connect(fx.relay.url, bob, 'b1');
    await b.next('queue_empty');
    expect(b.all('deliver').map((f) => f.message_id)).toEqual(ids);
    await Promise.all([a.close(), b.close()]);
  });

  it("acks only the named sender's frame when two senders used the same id", async () => {
    const [alice, carol, bob] = [uid('alice'), uid('carol'), uid('bob')];
    const a = await online(alice, 'a1');
    const c = await online(carol, 'c1');
    const b = await online(bob, 'b1');
    send(a, 'same', bob, ['b1'], 'from alice');
    send(c, 'same', bob, ['b1'], 'from carol');
    await b.seen((f) => f.type === 'deliver' && f.sender_id === alice);
    await b.seen((f) => f.type === 'deliver' && f.sender_id === carol);
    b.send({ type: 'delivery_ack', payload: { message_ids: ['same'], sender_id: alice } });
    expect(await a.next('status_update')).toMatchObject({ message_id: 'same', payload: { status: 'delivered' } });
    await b.close();
    // Carol's frame was not acked: it comes again, and Alice's does not.
    const again = await TestClient.connect(fx.relay.url, bob, 'b1');
    await again.next('queue_empty');
    expect(again.all('deliver').map((f) => [f.sender_id, f.payload.ciphertext])).toEqual([[carol, b64('from carol')]]);
    expect(c.all('status_update')).toHaveLength(0);
    await Promise.all([a.close(), c.close(), again.close()]);
  });

  it('stores and delivers a duplicate send id once', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await online(alice, 'a1');
    const b = await online(bob, 'b1');
    send(a, 'dup', bob, ['b1']);
    send(a, 'dup', bob, ['b1']);
    await a.next('sent_ack');
    await a.next('sent_ack');
    await b.next('deliver');
    // Later frames from the same sender arrive after any duplicate would have.
    send(a, 'after', bob, ['b1']);
    await b.next(isFor('after'));
    expect(await a.next(isFor('after'))).toMatchObject({ type: 'sent_ack' });
    expect(b.all('deliver').map((f) => f.message_id)).toEqual(['dup', 'after']);
    // And a retry after the recipient acked is answered, not delivered again.
    ack(b, ['dup', 'after']);
    await a.next((f) => f.type === 'status_update' && f.message_id === 'after');
    send(a, 'dup', bob, ['b1']);
    expect(await a.next('sent_ack')).toMatchObject({ message_id: 'dup' });
    // From a new connection of the device too, as when the sent_ack was lost with the old socket.
    await a.close();
    const a2 = await online(alice, 'a1');
    send(a2, 'dup', bob, ['b1']);
    expect(await a2.next('sent_ack')).toMatchObject({ message_id: 'dup' });
    await b.close();
    const b2 = await online(bob, 'b1');
    expect(b2.all('deliver')).toHaveLength(0);
    await Promise.all([a2.close(), b2.close()]);
  });

  it('delivers again to a device that disconnected before acking', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await online(alice, 'a1');
    const b = await online(bob, 'b1');
    send(a, 'r1', bob, ['b1']);
    send(a, 'r2', bob, ['b1']);
    await b.next(isFor('r2'));
    await a.next(isFor('r2'));
    ack(b, ['r1']);
    await a.next('status_update');
    await b.close();
    const again = await online(bob, 'b1');
    expect(again.all('deliver').map((f) => f.message_id)).toEqual(['r2']);
    await Promise.all([a.close(), again.close()]);
  });

  it("writes to every recipient device, and to one's own other devices", async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a1 = await online(alice, 'a1');
    const a2 = await online(alice, 'a2');
    const b1 = await online(bob, 'b1');
    const b2 = await online(bob, 'b2');
    send(a1, 'fan', bob, ['b1', 'b2']);
    await b1.next(isFor('fan'));
    await b2.next(isFor('fan'));
    // A send to oneself addresses the other devices only; including the sender is "extra".
    send(a1, 'self-bad', alice, ['a1', 'a2']);
    expect(await a1.next('error')).toMatchObject({ payload: { error_code: 'mismatched_devices', extra: ['a1'] } });
    send(a1, 'self', alice, ['a2']);
    expect(await a2.next(isFor('self'))).toMatchObject({ sender_id: alice, sender_device: 'a1' });
    await Promise.all([a1, a2, b1, b2].map((c) => c.close()));
  });

  it('keeps one socket per device: a second connection closes the first with 4409', async () => {
    const user = uid('carol');
    const first = await online(user, 'c1');
    const second = await online(user, 'c1');
    expect(await first.closed).toBe(4409);
    second.send({ type: 'heartbeat' });
    await second.next('heartbeat_ack');
    await second.close();
  });

  it('forwards media_key and sync frames durably, and typing only when online', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a1 = await online(alice, 'a1');
    const b = await online(bob, 'b1');
    a1.send({ type: 'media_key', id: 'mk1', payload: { to: bob, media_id: 'media-1', algorithm: 'AES-256-GCM', messages: [{ device_id: 'b1', ciphertext: b64('key') }] } });
    expect(await b.next('media_key')).toMatchObject({ message_id: 'mk1', payload: { media_id: 'media-1', algorithm: 'AES-256-GCM', ciphertext: b64('key') } });
    await a1.next(isFor('mk1'));
    a1.send({ type: 'typing', payload: { to: bob, conversation_id: 'c1', is_typing: true } });
    expect(await b.next('typing')).toMatchObject({ sender_id: alice, payload: { conversation_id: 'c1', is_typing: true } });
    // sync to an offline own device is stored and drained on connect.
    (await online(alice, 'a2')).ws.terminate();
    a1.send({ type: 'sync_data', id: 's1', payload: { device_id: 'a2', ciphertext: b64('history') } });
    expect(await a1.next(isFor('s1'))).toMatchObject({ type: 'sent_ack' });
    a1.send({ type: 'sync_request', id: 's2', payload: { device_id: 'b1' } });
    expect(await a1.next('error')).toMatchObject({ id: 's2', payload: { error_code: 'forbidden' } });
    const a2 = await online(alice, 'a2');
    expect(a2.all('sync_data')).toMatchObject([{ message_id: 's1', sender_device: 'a1', payload: { ciphertext: b64('history') } }]);
    await Promise.all([a1, a2, b].map((c) => c.close()));
  });

  it('answers garbage with error frames and keeps serving', async () => {
    const user = uid('mallory');
    const m = await online(user, 'm1');
    m.sendRaw('not json');
    expect(await m.next('error')).toMatchObject({ payload: { error_code: 'invalid_frame' } });
    m.send({ type: 'nope', payload: {} });
    expect(await m.next('error')).toMatchObject({ payload: { error_code: 'unknown_type' } });
    m.send({ type: 'send', id: 'bad', payload: { to: 'x', messages: [{ device_id: 'd', ciphertext: 'not base64!' }] } });
    expect(await m.next('error')).toMatchObject({ id: 'bad', payload: { error_code: 'invalid_message' } });
    m.send({ type: 'heartbeat' });
    await m.next('heartbeat_ack');
    await m.close();
  });
});
