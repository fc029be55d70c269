import { describe, expect, it } from 'vitest';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { b64, TestClient } from '../helpers/ws-client.ts';

/**
 * A device that has been quiet long enough to be pinged may lose its rate
 * budgets (dispatch.ts, onPong), but only when they have refilled: what it
 * may send afterwards is exactly what it could send had they been kept.
 * Pings come after 4 s of silence with an idle timeout of 8 s; the stored
 * message budget refills one token in 10 s, so within a test it stays spent.
 */
describe('rate budgets of a quiet device', () => {
  const fx = useRelay('pglite', { IDLE_TIMEOUT_SECONDS: '8', RATE_MESSAGES_BURST: '3', RATE_MESSAGES_PER_SECOND: '0.1' });

  const online = async (user: string, device: string) => {
    const c = await TestClient.connect(fx.relay.url, user, device);
    if (await fx.accounts.register(c, user, device)) throw new Error('expected a first device');
    await c.next('queue_empty');
    return c;
  };
  /** Resolves on the relay's next ping; the client's automatic pong goes out before anything sent after it. */
  const pinged = (c: TestClient) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no ping within 10 s')), 10_000);
      c.ws.once('ping', () => {
        clearTimeout(t);
        resolve();
      });
    });
  const send = (c: TestClient, id: string, to: string) => c.send({ type: 'send', id, payload: { to, messages: [{ device_id: 't1', ciphertext: b64(id) }] } });
  const answer = (c: TestClient, id: string) => c.next((f) => f.message_id === id || f.id === id);
  const target = async () => {
    const user = uid('sink');
    (await online(user, 't1')).ws.terminate();
    return user;
  };

  it('keeps a spent budget across a ping', async () => {
    const to = await target();
    const s = await online(uid('spent'), 's1');
    for (const id of ['a', 'b', 'c']) {
      send(s, id, to);
      expect((await answer(s, id)).type).toBe('sent_ack');
    }
    await pinged(s);
    send(s, 'd', to);
    expect(await answer(s, 'd')).toMatchObject({ type: 'error', payload: { error_code: 'rate_limited' } });
    await s.close();
  }, 20_000);

  it('gives a device pinged with full budgets one whole burst, then limits it', async () => {
    const to = await target();
    const s = await online(uid('rested'), 's1');
    await pinged(s);
    for (const id of ['a', 'b', 'c']) {
      send(s, id, to);
      expect((await answer(s, id)).type).toBe('sent_ack');
    }
    send(s, 'd', to);
    expect(await answer(s, 'd')).toMatchObject({ type: 'error', payload: { error_code: 'rate_limited' } });
    await s.close();
  }, 20_000);
});
