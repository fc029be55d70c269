import { describe, expect, it } from 'vitest';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { b64, TestClient } from '../helpers/ws-client.ts';

/**
 * A device reconnects to a backlog while new messages keep arriving, and its
 * drain is slow (small in-flight window, a reader that acks slowly). Every
 * message must reach it on this one connection, in order: none may be left
 * in the queue until some later reconnect.
 */
describe('backlog drain under live traffic', () => {
  const fx = useRelay('pglite', { INFLIGHT_MAX: '10', DRAIN_PAGE_SIZE: '20', RATE_MESSAGES_BURST: '1000', RATE_MESSAGES_PER_SECOND: '1000' });

  it('delivers the backlog and everything sent during the drain, in order, without a reconnect', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    (await fx.accounts.online(bob, 'b1')).ws.terminate();
    const a = await fx.accounts.online(alice, 'a1');
    const send = (id: string) => a.send({ type: 'send', id, payload: { to: bob, messages: [{ device_id: 'b1', ciphertext: b64(id) }] } });
    for (let i = 0; i < 50; i++) send(`m${i}`);
    await a.next((f) => f.type === 'sent_ack' && f.message_id === 'm49');

    const b = await TestClient.connect(fx.relay.url, bob, 'b1');
    let next = 50;
    const total = 130;
    // Live sends go on for longer than the backlog takes to drain, so some land while held entries are being sent.
    const live = setInterval(() => {
      if (next < total) send(`m${next++}`);
    }, 20);
    const seen: string[] = [];
    try {
      while (seen.length < total) {
        const f = await b.next('deliver', 10_000);
        seen.push(f.message_id!);
        await new Promise((r) => setTimeout(r, 10));
        b.send({ type: 'delivery_ack', payload: { message_ids: [f.message_id!] } });
      }
    } finally {
      clearInterval(live);
    }
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => `m${i}`));
    await Promise.all([a.close(), b.close()]);
  }, 60_000);
});
