import { describe, expect, it } from 'vitest';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { backends } from '../helpers/databases.ts';
import { until } from '../helpers/until.ts';
import { b64, TestClient } from '../helpers/ws-client.ts';

/**
 * The write delay holds a stored message only while a device may ack it. On
 * a single node (no Redis), a message for a device that is not connected
 * is written at once, so its sender's sent_ack waits for the commit alone;
 * one for a connected device that does not ack waits out the delay, then
 * is written. The delay is the largest allowed (1 s), far above a commit.
 */
describe.each(backends)('write delay on %s', (kind) => {
  const DELAY = 1000;
  const fx = useRelay(kind, { WRITE_DELAY_MS: String(DELAY) });
  const send = (c: TestClient, id: string, to: string, device: string) => c.send({ type: 'send', id, payload: { to, messages: [{ device_id: device, ciphertext: b64(id) }] } });
  const connections = async () => ((await (await fetch(`http://127.0.0.1:${fx.relay.port}/healthz`)).json()) as { connections: number }).connections;
  /** Milliseconds from `t0` (just before the send) to the send's sent_ack. */
  const ackAfter = async (c: TestClient, id: string, t0: number) => {
    await c.next((f) => f.type === 'sent_ack' && f.message_id === id, 3 * DELAY);
    return Date.now() - t0;
  };

  it('answers a send to a device connected nowhere from its commit, without the delay', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    (await fx.accounts.online(bob, 'b1')).ws.terminate();
    // Bob's device is gone from the relay before alice sends (she is the only connection left).
    const a = await fx.accounts.online(alice, 'a1');
    await until(async () => (await connections()) === 1, 5000, 'the relay to stop counting the closed device');
    const t0 = Date.now();
    send(a, 'off1', bob, 'b1');
    expect(await ackAfter(a, 'off1', t0)).toBeLessThan(DELAY / 2);
    // Stored all the same: bob gets it when he connects.
    const b = await TestClient.connect(fx.relay.url, bob, 'b1');
    expect(await b.next('deliver')).toMatchObject({ message_id: 'off1' });
    await Promise.all([a.close(), b.close()]);
  });

  it('holds a send to a connected device for the delay, then writes it: sent_ack follows the commit', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await fx.accounts.online(alice, 'a1');
    const b = await fx.accounts.online(bob, 'b1');
    const t0 = Date.now();
    send(a, 'on1', bob, 'b1');
    await b.next('deliver');
    // Bob never acks: the entry is written once its delay is over, and only then is alice answered
    // (the relay stamps the entry after t0, on the same clock; 10 ms for rounding).
    expect(await ackAfter(a, 'on1', t0)).toBeGreaterThanOrEqual(DELAY - 10);
    b.ws.terminate();
    const again = await TestClient.connect(fx.relay.url, bob, 'b1');
    expect(await again.next('deliver')).toMatchObject({ message_id: 'on1' });
    await Promise.all([a.close(), again.close()]);
  });
});
