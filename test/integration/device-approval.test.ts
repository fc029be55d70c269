import sodium from 'libsodium-wrappers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { approvalMessage } from '../../src/protocol/approval-message.ts';
import { Accounts } from '../helpers/accounts.ts';
import { backends, createTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { startRelay, type RelayProcess } from '../../tools/relay-process.ts';
import { TEST_SECRET, token } from '../helpers/tokens.ts';
import { b64, TestClient, upgradeStatus, type Frame } from '../helpers/ws-client.ts';

/**
 * The approval flow against real relays. A second relay, on a database of
 * its own, runs with a 5-second approval TTL, no expiry sweeps and a cap of
 * two devices, for the tests that need those.
 */
const approve = (primary: TestClient, requestId: string, code: string, signature: string) => primary.send({ type: 'device_approve', payload: { request_id: requestId, code, signature } });
const errorCode = async (c: TestClient) => (await c.next('error')).payload.error_code;

describe.each(backends)('device approval on %s', (kind) => {
  const fx = useRelay(kind);
  const connect = (user: string, device: string) => TestClient.connect(fx.relay.url, user, device);
  /** Registers a new device of a user whose primary exists; returns the new socket and its pending frame. */
  const pendingDevice = async (user: string, device: string) => {
    const c = await connect(user, device);
    const pending = await fx.accounts.register(c, user, device);
    if (!pending) throw new Error('expected a pending registration');
    return { c, pending, requestId: String(pending.payload['request_id']), code: String(pending.payload['code']) };
  };

  it('makes the first device the approved primary', async () => {
    const user = uid('ann');
    const c = await connect(user, 'phone');
    expect(await fx.accounts.register(c, user, 'phone')).toBeUndefined();
    await c.next('queue_empty');
    c.send({ type: 'devices_list', payload: { user_id: user } });
    const list = await c.next('devices');
    expect(list.payload['devices']).toMatchObject([{ device_id: 'phone', primary: true, identity_key: fx.accounts.keysOf(user, 'phone').b64 }]);
    await c.close();
  });

  it('keeps a pending device out: it can send nothing and receives nothing addressed to its user', async () => {
    const [user, other] = [uid('ben'), uid('oli')];
    const primary = await fx.accounts.online(user, 'phone');
    const o = await fx.accounts.online(other, 'o1');
    const { c, pending } = await pendingDevice(user, 'laptop');
    expect(pending.payload).toMatchObject({ code: expect.stringMatching(/^[0-9]{6}$/), expires_at: expect.any(String) });
    const request = await primary.next('device_approval_request');
    expect(request.payload).toMatchObject({ device_id: 'laptop', device_name: `laptop of ${user}`, device_type: 'test', identity_key: fx.accounts.keysOf(user, 'laptop').b64 });
    expect(request.payload['code']).toBeUndefined();

    c.send({ type: 'send', id: 'p1', payload: { to: other, messages: [{ device_id: 'o1', ciphertext: b64('x') }] } });
    expect(await errorCode(c)).toBe('device_not_approved');
    // Senders must not address it, and it gets neither stored nor ephemeral frames.
    o.send({
      type: 'send',
      id: 'to-pending',
      payload: {
        to: user,
        messages: [
          { device_id: 'phone', ciphertext: b64('a') },
          { device_id: 'laptop', ciphertext: b64('b') },
        ],
      },
    });
    expect(await o.next('error')).toMatchObject({ payload: { error_code: 'mismatched_devices', extra: ['laptop'] } });
    o.send({ type: 'send', id: 'to-user', payload: { to: user, messages: [{ device_id: 'phone', ciphertext: b64('a') }] } });
    o.send({ type: 'typing', payload: { to: user, conversation_id: 'c', is_typing: true } });
    await primary.next('deliver');
    await primary.next('typing');
    c.send({ type: 'heartbeat' });
    await c.next('heartbeat_ack');
    expect(c.frames.filter((f) => f.type === 'deliver' || f.type === 'typing')).toEqual([]);
    await Promise.all([primary, o, c].map((x) => x.close()));
  });

  it('denies the request after three wrong codes, and the device can never connect again', async () => {
    const user = uid('cat');
    const primary = await fx.accounts.online(user, 'phone');
    const { c, requestId, code } = await pendingDevice(user, 'laptop');
    const wrong = code === '000000' ? '111111' : '000000';
    const sig = fx.accounts.sign(user, 'phone', 'laptop', requestId);
    const left: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      approve(primary, requestId, wrong, sig);
      const e = await primary.next('error');
      expect(e.payload.error_code).toBe('invalid_code');
      left.push(e.payload['attempts_left']);
    }
    expect(left).toEqual([2, 1, 0]);
    expect(await c.next('device_denied')).toMatchObject({ payload: { request_id: requestId, reason: 'too_many_attempts' } });
    expect(await c.closed).toBe(4403);
    // The right code is too late now.
    approve(primary, requestId, code, sig);
    expect(await errorCode(primary)).toBe('request_not_pending');
    expect(await upgradeStatus(fx.relay.url, { headers: { authorization: `Bearer ${await token(user, 'laptop')}` } })).toBe(403);
    await primary.close();
  });

  it("refuses a signature made with a key other than the primary's, then accepts the right one", async () => {
    const user = uid('dan');
    const primary = await fx.accounts.online(user, 'phone');
    const { c, requestId, code } = await pendingDevice(user, 'laptop');
    await sodium.ready;
    const impostor = sodium.crypto_sign_keypair();
    const forged = Buffer.from(sodium.crypto_sign_detached(approvalMessage(user, 'laptop', fx.accounts.keysOf(user, 'laptop').publicKey, requestId), impostor.privateKey)).toString('base64');
    approve(primary, requestId, code, forged);
    expect(await errorCode(primary)).toBe('invalid_signature');
    // A signature by the primary over another request id does not carry over either.
    approve(primary, requestId, code, fx.accounts.sign(user, 'phone', 'laptop', 'req_other'));
    expect(await errorCode(primary)).toBe('invalid_signature');

    // The right signature spelt in non-canonical base64 (the unused low bits of its last character set) is refused too.
    const right = fx.accounts.sign(user, 'phone', 'laptop', requestId);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const loose = `${right.slice(0, 85)}${alphabet[alphabet.indexOf(right[85]!) + 1]!}==`;
    expect(Buffer.from(loose, 'base64').equals(Buffer.from(right, 'base64'))).toBe(true);
    approve(primary, requestId, code, loose);
    expect(await errorCode(primary)).toBe('invalid_signature');

    approve(primary, requestId, code, right);
    expect(await c.next('device_approved')).toMatchObject({ payload: { request_id: requestId, device_id: 'laptop', approved_by: 'phone' } });
    await c.next('queue_empty');
    // Approved: it sends and receives.
    c.send({ type: 'send', id: 'hello', payload: { to: user, messages: [{ device_id: 'phone', ciphertext: b64('from laptop') }] } });
    expect(await primary.next('deliver')).toMatchObject({ message_id: 'hello', sender_device: 'laptop' });
    primary.send({ type: 'send', id: 'back', payload: { to: user, messages: [{ device_id: 'laptop', ciphertext: b64('from phone') }] } });
    expect(await c.next('deliver')).toMatchObject({ message_id: 'back', sender_device: 'phone' });
    // Replaying the approval fails.
    approve(primary, requestId, code, fx.accounts.sign(user, 'phone', 'laptop', requestId));
    expect(await errorCode(primary)).toBe('request_not_pending');
    await Promise.all([primary.close(), c.close()]);
  });

  it('refuses approval from a device that is not the primary', async () => {
    const user = uid('eve');
    const primary = await fx.accounts.online(user, 'phone');
    const second = await fx.accounts.online(user, 'tablet');
    const { requestId, code } = await pendingDevice(user, 'laptop');
    approve(second, requestId, code, fx.accounts.sign(user, 'tablet', 'laptop', requestId));
    expect(await errorCode(second)).toBe('not_primary');
    second.send({ type: 'device_deny', payload: { request_id: requestId } });
    expect(await errorCode(second)).toBe('not_primary');
    // Another user's primary cannot see the request at all.
    const stranger = await fx.accounts.online(uid('mal'), 'm1');
    approve(stranger, requestId, code, fx.accounts.sign(stranger.user, 'm1', 'laptop', requestId));
    expect(await errorCode(stranger)).toBe('request_not_found');
    await Promise.all([primary, second, stranger].map((x) => x.close()));
  });

  it('denies on request: the new device is told and closed', async () => {
    const user = uid('fay');
    const primary = await fx.accounts.online(user, 'phone');
    const { c, requestId } = await pendingDevice(user, 'laptop');
    primary.send({ type: 'device_deny', payload: { request_id: requestId } });
    expect(await c.next('device_denied')).toMatchObject({ payload: { reason: 'denied_by_primary' } });
    expect(await c.closed).toBe(4403);
    await primary.close();
  });

  it('revokes a live device: its socket closes with 4403, its queue is dropped, it cannot reconnect', async () => {
    const user = uid('gus');
    const primary = await fx.accounts.online(user, 'phone');
    const laptop = await fx.accounts.online(user, 'laptop');
    const friend = await fx.accounts.online(uid('hal'), 'h1');
    friend.send({
      type: 'send',
      id: 'q1',
      payload: {
        to: user,
        messages: [
          { device_id: 'phone', ciphertext: b64('a') },
          { device_id: 'laptop', ciphertext: b64('b') },
        ],
      },
    });
    await laptop.next('deliver');
    primary.send({ type: 'device_revoke', payload: { device_id: 'laptop' } });
    expect(await laptop.closed).toBe(4403);
    const list = await primary.next((f) => f.type === 'devices' && !(f.payload['devices'] as { device_id: string }[]).some((d) => d.device_id === 'laptop'));
    expect((list.payload['devices'] as unknown[]).length).toBe(1);
    expect(await upgradeStatus(fx.relay.url, { headers: { authorization: `Bearer ${await token(user, 'laptop')}` } })).toBe(403);
    if (fx.db.kind === 'postgres') {
      // A row whose insert was already on its way when the revocation committed is deleted by the writer's next batch.
      const left = async () => (await fx.db.query('select count(*)::int as n from queue where recipient_user = $1 and recipient_device = $2', [user, 'laptop']))[0];
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && (await left())?.['n'] !== 0) await new Promise((r) => setTimeout(r, 50));
      expect(await left()).toEqual({ n: 0 });
    }
    await Promise.all([primary.close(), friend.close()]);
  });

  it('lists devices with signatures that verify with libsodium, as a client would check them', async () => {
    const user = uid('ivy');
    const primary = await fx.accounts.online(user, 'phone');
    await fx.accounts.online(user, 'laptop');
    await fx.accounts.online(user, 'tablet');
    const viewer = await fx.accounts.online(uid('jon'), 'j1');
    viewer.send({ type: 'devices_list', payload: { user_id: user } });
    const list = await viewer.next((f) => f.type === 'devices' && f.payload['user_id'] === user);
    type Listed = { device_id: string; identity_key: string; primary: boolean; approved_by: string | null; approval_signature: string | null; approval_request: string | null };
    const devices = list.payload['devices'] as Listed[];
    expect(devices.map((d) => d.device_id).sort()).toEqual(['laptop', 'phone', 'tablet']);
    const root = devices.find((d) => d.primary)!;
    // The viewer trusts the primary's key (safety-number check out of band) and verifies the rest from it.
    expect(root.identity_key).toBe(fx.accounts.keysOf(user, 'phone').b64);
    await sodium.ready;
    for (const d of devices.filter((x) => !x.primary)) {
      const signer = devices.find((x) => x.device_id === d.approved_by)!;
      const msg = approvalMessage(user, d.device_id, Buffer.from(d.identity_key, 'base64'), d.approval_request!);
      expect(sodium.crypto_sign_verify_detached(Buffer.from(d.approval_signature!, 'base64'), msg, Buffer.from(signer.identity_key, 'base64'))).toBe(true);
      // Any change to the listed facts breaks the signature.
      const tampered = approvalMessage(user, d.device_id, Buffer.from(fx.accounts.keysOf(user, 'phone').publicKey), d.approval_request!);
      expect(sodium.crypto_sign_verify_detached(Buffer.from(d.approval_signature!, 'base64'), tampered, Buffer.from(signer.identity_key, 'base64'))).toBe(false);
    }
    await Promise.all([primary.close(), viewer.close()]);
  });

  it('limits registrations per device (fail closed on the shared counter)', async () => {
    const user = uid('kim');
    const primary = await fx.accounts.online(user, 'phone');
    const c = await connect(user, 'laptop');
    const codes: string[] = [];
    for (let i = 0; i < 6; i++) {
      c.send({ type: 'device_register', payload: { identity_key: fx.accounts.keysOf(user, 'laptop').b64, device_name: 'l', device_type: 'test' } });
      const f = await c.next((x) => x.type === 'device_approval_pending' || x.type === 'error');
      codes.push(f.type === 'error' ? String(f.payload.error_code) : 'pending');
    }
    expect(codes).toEqual(['pending', 'pending', 'pending', 'pending', 'pending', 'rate_limited']);
    // One answer per registration: no reminder for a device that registered in its first turn.
    c.send({ type: 'heartbeat' });
    await c.next('heartbeat_ack');
    expect(c.frames.filter((f) => f.type === 'device_approval_pending')).toHaveLength(5);
    await Promise.all([primary.close(), c.close()]);
  });

  it('reminds a pending device of its request when it reconnects', async () => {
    const user = uid('lee');
    const primary = await fx.accounts.online(user, 'phone');
    const { c, requestId } = await pendingDevice(user, 'laptop');
    await c.close();
    const again = await connect(user, 'laptop');
    expect(await again.next('device_approval_pending')).toMatchObject({ payload: { request_id: requestId, code: null } });
    await Promise.all([primary.close(), again.close()]);
  });

  describe('with a short approval TTL and a cap of two devices', () => {
    let short: RelayProcess;
    let shortAccounts: Accounts;
    // A database of its own: the first relay's expiry sweep would otherwise close these requests too.
    let shortDb: TestDatabase;
    beforeAll(async () => {
      shortDb = await createTestDatabase(kind);
      short = await startRelay({ ...shortDb.env, JWT_SECRET: TEST_SECRET, APPROVAL_TTL_SECONDS: '5', APPROVAL_SWEEP_SECONDS: '3600', MAX_DEVICES_PER_USER: '2' });
      shortAccounts = new Accounts(short.url);
    });
    afterAll(async () => {
      await short.stop();
      await shortDb.drop();
    });

    it('enforces the device cap', async () => {
      const user = uid('max');
      const primary = await shortAccounts.online(user, 'phone');
      await shortAccounts.online(user, 'laptop');
      const third = await TestClient.connect(short.url, user, 'tablet');
      third.send({ type: 'device_register', payload: { identity_key: shortAccounts.keysOf(user, 'tablet').b64, device_name: 't', device_type: 'test' } });
      expect(await errorCode(third)).toBe('device_limit');
      await Promise.all([primary.close(), third.close()]);
    });

    it('refuses to approve an expired request, and the device is denied', async () => {
      const user = uid('nat');
      const primary = await shortAccounts.online(user, 'phone');
      const c = await TestClient.connect(short.url, user, 'laptop');
      const pending = (await shortAccounts.register(c, user, 'laptop')) as Frame;
      const requestId = String(pending.payload['request_id']);
      await new Promise((r) => setTimeout(r, 5500));
      approve(primary, requestId, String(pending.payload['code']), shortAccounts.sign(user, 'phone', 'laptop', requestId));
      expect(await errorCode(primary)).toBe('request_expired');
      expect(await c.next('device_denied')).toMatchObject({ payload: { reason: 'expired' } });
      expect(await c.closed).toBe(4403);
      await primary.close();
    }, 20_000);
  });
});

describe('approval expiry sweep', () => {
  const fx = useRelay('pglite', { APPROVAL_TTL_SECONDS: '5', APPROVAL_SWEEP_SECONDS: '1' });

  it('denies and closes a device whose request expired unanswered; approving it later says expired', async () => {
    const primary = await fx.accounts.online('olga', 'phone');
    const c = await TestClient.connect(fx.relay.url, 'olga', 'laptop');
    const pending = (await fx.accounts.register(c, 'olga', 'laptop')) as Frame;
    expect(await c.next('device_denied', 10_000)).toMatchObject({ payload: { reason: 'expired' } });
    expect(await c.closed).toBe(4403);
    const requestId = String(pending.payload['request_id']);
    approve(primary, requestId, String(pending.payload['code']), fx.accounts.sign('olga', 'phone', 'laptop', requestId));
    expect(await errorCode(primary)).toBe('request_expired');
    await primary.close();
  }, 30_000);
});
