import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay, tempDir, type RelayProcess } from '../../tools/relay-process.ts';
import { Accounts } from '../helpers/accounts.ts';
import { uid } from '../helpers/relay-fixture.ts';
import { TEST_SECRET } from '../helpers/tokens.ts';
import { TestClient } from '../helpers/ws-client.ts';

/**
 * The application keepalives: `heartbeat` (answered `heartbeat_ack`) and
 * the seed API's JSON `ping` (answered `pong`); a client's `pong` is taken
 * without an answer. WebSocket protocol pings from the relay are the
 * transport keepalive and need nothing from the application.
 */
describe('keepalive frames', () => {
  let relay: RelayProcess;
  beforeAll(async () => {
    await Accounts.ready();
    relay = await startRelay({ DATA_DIR: tempDir('keepalive'), JWT_SECRET: TEST_SECRET });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it('answers a JSON ping with pong, before approval and after, and takes a pong silently', async () => {
    const user = uid('pinger');
    // Not registered yet: keepalives are open before approval, like heartbeat.
    const fresh = await TestClient.connect(relay.url, user, 'd1');
    fresh.send({ type: 'ping' });
    const pong = await fresh.next('pong');
    expect(pong.payload).toEqual({});
    expect(Date.parse(pong.timestamp!)).toBeGreaterThan(0);
    await fresh.close();

    const accounts = new Accounts(relay.url);
    const c = await accounts.online(user, 'd1');
    c.send({ type: 'ping', payload: {} });
    await c.next('pong');
    c.send({ type: 'pong' });
    c.send({ type: 'heartbeat' });
    await c.next('heartbeat_ack');
    // Nothing answered the pong: not an error, not a second pong.
    expect(c.frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(c.all('pong')).toHaveLength(1);
    c.send({ type: 'ping', payload: { extra: 1 } });
    expect((await c.next('error')).payload.error_code).toBe('invalid_message');
    await c.close();
  });
});
