import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generateIdentity, RelayClient, SecureMessenger, sodiumReady, verifyDeviceList, type ClientEvents, type DeviceIdentity, type TextMessage, type WebSocketConstructor } from '../../sdk/index.ts';
import { backends, createTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { freePort, startRelay, type RelayProcess } from '../../tools/relay-process.ts';
import { uid } from '../helpers/relay-fixture.ts';
import { TEST_SECRET, token } from '../helpers/tokens.ts';
import { until } from '../helpers/until.ts';

/**
 * The client SDK against a real relay process: reconnects across a relay
 * restart without losing or duplicating anything the application sees,
 * stops for good on 4403, and makes approvals the relay accepts and the
 * helpers verify.
 */

interface Device {
  userId: string;
  deviceId: string;
  identity: DeviceIdentity;
  client: RelayClient;
  messenger: SecureMessenger;
  received: TextMessage[];
  connects: number;
}

const fastBackoff = { baseMs: 50, capMs: 400 };

describe.each(backends)('client SDK against the relay (%s)', (kind) => {
  let db: TestDatabase;
  let relay: RelayProcess;
  let url: string;
  const devices: Device[] = [];

  const boot = async (port: number) => {
    relay = await startRelay({ ...db.env, JWT_SECRET: TEST_SECRET, PORT: String(port) });
    url = relay.url;
  };

  beforeAll(async () => {
    await sodiumReady();
    db = await createTestDatabase(kind);
    await boot(await freePort());
  });
  afterEach(() => {
    for (const d of devices.splice(0)) d.client.close();
  });
  afterAll(async () => {
    await relay?.stop();
    await db?.drop();
  });

  /** A device driven by the SDK, with a token provider that mints a fresh token per attempt. */
  const device = (userId: string, deviceId: string, ttlSeconds = 3600): Device => {
    const client = new RelayClient({
      url,
      token: () => token(userId, deviceId, { ttlSeconds }),
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      backoff: fastBackoff,
      requestTimeoutMs: 10_000,
    });
    const identity = generateIdentity();
    const d: Device = { userId, deviceId, identity, client, messenger: new SecureMessenger(client, { userId, deviceId, identity }), received: [], connects: 0 };
    d.messenger.onText((m) => {
      d.received.push(m);
    });
    client.on('connected', () => {
      d.connects++;
    });
    client.connect();
    devices.push(d);
    return d;
  };

  const primary = async (userId: string, deviceId = 'phone', ttlSeconds?: number): Promise<Device> => {
    const d = device(userId, deviceId, ttlSeconds);
    const r = await d.client.register(d.identity.identityKey, `${deviceId} of ${userId}`, 'test');
    expect(r.type).toBe('device_approved');
    await d.client.ready();
    return d;
  };

  /** A second device of `primaryDevice`'s user, registered and pending, with the request as the primary received it. */
  const pendingDevice = async (primaryDevice: Device, deviceId: string) => {
    const requests: ClientEvents['device_approval_request'][] = [];
    primaryDevice.client.on('device_approval_request', (f) => void requests.push(f));
    const d = device(primaryDevice.userId, deviceId);
    const pending = await d.client.register(d.identity.identityKey, deviceId, 'web');
    if (pending.type !== 'device_approval_pending') throw new Error(`expected a pending registration, got ${pending.type}`);
    await until(() => requests.length > 0, 10_000, 'the approval request at the primary');
    return { device: d, code: pending.payload.code!, request: requests[0]!.payload };
  };

  it('sets a presence state that contacts see and that survives a reconnect, and lists online contacts', async () => {
    const [aliceId, bobId] = [uid('alice'), uid('bob')];
    const alice = await primary(aliceId);
    const bob = await primary(bobId);
    const seen: ClientEvents['presence'][] = [];
    bob.client.on('presence', (f) => void seen.push(f));
    await alice.client.post({ type: 'contact_add', payload: { user_id: bobId } });
    await bob.client.post({ type: 'contact_add', payload: { user_id: aliceId } });
    await until(async () => (await bob.client.onlineContacts()).some((c) => c.user_id === aliceId), 10_000, "alice among bob's online contacts");
    alice.client.setPresence('busy');
    const aliceIs = (status: string) => () => seen.some((f) => f.payload.contacts.some((c) => c.user_id === aliceId && c.status === status));
    await until(aliceIs('busy'), 10_000, 'bob sees alice busy');
    expect(await bob.client.onlineContacts()).toEqual([{ user_id: aliceId, online: true, status: 'busy', devices: [{ device_id: 'phone', device_type: 'test', status: 'busy' }] }]);
    // The relay starts every connection online; the SDK sets the chosen state again after reconnecting.
    seen.length = 0;
    const connects = alice.connects;
    (alice.client as unknown as { ws: WebSocket }).ws.terminate();
    await until(() => alice.connects > connects, 10_000, 'alice reconnected');
    // A reconnect within the grace period sends contacts nothing by itself: this entry is the SDK's presence frame.
    await until(aliceIs('busy'), 10_000, 'bob told alice is busy after her reconnect');
    expect((await bob.client.onlineContacts())[0]!.devices).toEqual([{ device_id: 'phone', device_type: 'test', status: 'busy' }]);
  });

  it('sends a group message to three users, re-sealed once for a member who gained a device meanwhile', async () => {
    const [aliceId, bobId, carolId] = [uid('alice'), uid('bob'), uid('carol')];
    const alice = await primary(aliceId);
    const alicePad = await (async () => {
      const { device: pad, code, request } = await pendingDevice(alice, 'pad');
      await alice.messenger.approve(request, code);
      await pad.client.ready();
      return pad;
    })();
    const bob = await primary(bobId);
    const carol = await primary(carolId);
    const members = [aliceId, bobId, carolId];
    await alice.messenger.sendGroupText('g-trip', members, 'first');
    await until(() => [alicePad, bob, carol].every((d) => d.received.length === 1), 10_000, 'the first group message at every member device');
    for (const d of [alicePad, bob, carol]) expect(d.received[0]).toMatchObject({ from: aliceId, body: 'first', groupId: 'g-trip' });
    expect(alice.received).toEqual([]);

    // Carol approves a laptop; alice's cached list of carol is stale, and the relay names carol.
    const { device: laptop, code, request } = await pendingDevice(carol, 'laptop');
    await carol.messenger.approve(request, code);
    await laptop.client.ready();
    let carolLists = 0;
    alice.client.on('devices', (f) => void (f.payload.user_id === carolId && carolLists++));
    const { id } = await alice.messenger.sendGroupText('g-trip', members, 'second');
    expect(carolLists).toBe(1);
    await until(() => [alicePad, bob, carol, laptop].every((d) => d.received.some((m) => m.id === id)), 10_000, 'the second group message at every member device');
    for (const d of [alicePad, bob, carol, laptop]) expect(d.received.filter((m) => m.id === id)).toEqual([expect.objectContaining({ body: 'second', groupId: 'g-trip' })]);
  });

  it('renews a short token on the open socket before exp, so the connection outlives it', async () => {
    const alice = await primary(uid('alice'), 'phone', 4);
    const bob = await primary(uid('bob'));
    const disconnects: number[] = [];
    alice.client.on('disconnected', ({ code }) => void disconnects.push(code));
    // Two lifetimes of the first token; each renewal is due a fifth of the time left before exp.
    await new Promise((r) => setTimeout(r, 9000));
    expect(disconnects).toEqual([]);
    expect(alice.connects).toBe(1);
    await bob.messenger.sendText(alice.userId, 'still here');
    await until(() => alice.received.length === 1, 10_000, 'the message on the renewed socket');
  }, 30_000);

  it.each(['SIGTERM', 'SIGKILL'] as const)('a relay restart (%s) loses nothing and duplicates nothing the application sees', async (signal) => {
    const alice = await primary(uid('alice'));
    const bob = await primary(uid('bob'));
    const total = 40;
    const sent: Promise<{ id: string }>[] = [];
    const states: ClientEvents['state']['state'][] = [];
    alice.client.on('state', ({ state }) => void states.push(state));

    // Fetch bob's device list first: a send waiting on that request is not in
    // the outbox yet, and under load the request could outlive the kill.
    await alice.messenger.devicesOf(bob.userId);
    // And the sends use that list: none asks the relay for bob's devices again.
    let bobListsFetched = 0;
    alice.client.on('devices', (f) => {
      if (f.payload.user_id === bob.userId) bobListsFetched++;
    });
    let heldAcrossRestart = 0;
    const port = relay.port;
    for (let i = 0; i < total; i++) {
      sent.push(alice.messenger.sendText(bob.userId, `message ${i}`));
      // Kill the relay with sends in flight; ten more sends are made while it is away.
      if (i === 15) await relay.stop(signal);
      await new Promise((r) => setTimeout(r, 5));
      if (i > 15 && i <= 25) heldAcrossRestart = Math.max(heldAcrossRestart, alice.client.pendingSends);
      // Then it comes back on the same port and database.
      if (i === 25) await boot(port);
    }
    const ids = (await Promise.all(sent)).map((s) => s.id);
    expect(new Set(ids).size).toBe(total);
    await until(() => bob.received.length >= total, 20_000, `${total} messages at bob`);
    // Give a late duplicate the time to show up before judging.
    await new Promise((r) => setTimeout(r, 500));
    expect(bob.received.map((m) => m.body)).toEqual(Array.from({ length: total }, (_, i) => `message ${i}`));
    expect(bob.received.map((m) => m.id)).toEqual(ids);
    expect(alice.connects).toBeGreaterThanOrEqual(2);
    expect(states).toContain('waiting');
    // Sends were made while the relay was away, held in the outbox and sent after the reconnect.
    expect(heldAcrossRestart).toBeGreaterThan(0);
    expect(alice.client.pendingSends).toBe(0);
    expect(bobListsFetched).toBe(0);
  });

  it('approves a new device with the helpers; the relay accepts it and the device list verifies', async () => {
    const userId = uid('carol');
    const phone = await primary(userId);
    const { device: laptop, code, request } = await pendingDevice(phone, 'laptop');
    expect(request.identity_key).toBe(laptop.identity.identityKey);

    await phone.messenger.approve(request, code);
    await laptop.client.ready();

    const listed = await phone.messenger.rawDevices(userId);
    const check = verifyDeviceList(userId, listed);
    expect(check.untrusted).toEqual([]);
    expect(check.trusted.map((d) => [d.deviceId, d.vouchedBy]).sort()).toEqual([
      ['laptop', 'phone'],
      ['phone', 'self'],
    ]);
    // Pinning the phone's key and presenting a different root is caught.
    const pinnedOther = verifyDeviceList(userId, listed, new Set([generateIdentity().identityKey]));
    expect(pinnedOther.trusted).toEqual([]);

    // The approved laptop is a real recipient: a message to the user opens on both devices.
    const dave = await primary(uid('dave'));
    await dave.messenger.sendText(userId, 'hello both');
    await until(() => phone.received.length === 1 && laptop.received.length === 1, 10_000, 'the message on both devices');
    expect(phone.received[0]!.body).toBe('hello both');
    expect(laptop.received[0]!.body).toBe('hello both');
  });

  it('the primary signs the device list by itself, after each approval and revocation', async () => {
    const userId = uid('erin');
    const phone = await primary(userId);
    // Every signed list reaches the user's devices in a `devices` frame: watch them rather than poll.
    let latest: ClientEvents['devices']['payload']['signed_list'] = null;
    phone.client.on('devices', (f) => {
      if ((f.payload.signed_list?.version ?? 0) > (latest?.version ?? 0)) latest = f.payload.signed_list;
    });
    const signedVersion = () => latest;
    await until(() => signedVersion()?.version === 1, 10_000, 'the first signed list');
    const { device: laptop, code, request } = await pendingDevice(phone, 'laptop');
    await phone.messenger.approve(request, code);
    await laptop.client.ready();
    await until(() => signedVersion()?.devices.length === 2, 10_000, 'a signed list with the laptop');
    expect(signedVersion()).toMatchObject({ version: 2, primary: 'phone', signer: 'phone', revoked: [] });

    await phone.client.post({ type: 'device_revoke', payload: { device_id: 'laptop' } });
    await until(() => signedVersion()?.revoked.includes('laptop') === true, 10_000, 'a signed list naming the revoked laptop');
    const last = (await phone.messenger.rawList(userId)).signed_list!;
    expect(last).toMatchObject({ version: 3, revoked: ['laptop'] });
    expect(last.devices.map((d) => d.device_id)).toEqual(['phone']);
    expect(phone.messenger.lastListProblem).toBeUndefined();
    expect(phone.messenger.lastSignedList?.version).toBe(3);
  });

  it('a 4403 close (device denied) stops reconnecting for good', async () => {
    const userId = uid('erin');
    const phone = await primary(userId);
    const { device: tablet, request } = await pendingDevice(phone, 'tablet');
    const stopped = tablet.client.events.once('stopped');
    await phone.messenger.deny(request.request_id);

    const stop = await stopped;
    expect(stop.code).toBe(4403);
    expect(tablet.client.state).toBe('stopped');
    const connects = tablet.connects;
    // Backoff here is at most 400 ms: a client that reconnected would have done so by now.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(tablet.connects).toBe(connects);
    await expect(tablet.client.send(userId, [{ device_id: 'phone', ciphertext: 'AAAA' }])).rejects.toThrow(/stopped/);
  });

  it('a handler that throws leaves the frame unacked, and it is handed over again after a reconnect', async () => {
    const frank = await primary(uid('frank'));
    const gina = device(uid('gina'), 'phone');
    await gina.client.register(gina.identity.identityKey, 'phone', 'test');
    await gina.client.ready();
    let failOnce = true;
    const seen: string[] = [];
    gina.client.on('deliver', (f) => {
      if (f.payload.message_type !== 'text') return;
      seen.push(f.message_id);
      if (failOnce) {
        failOnce = false;
        throw new Error('app could not store it');
      }
    });
    const errors = gina.client.events.once('handler_error');
    const { id } = await frank.messenger.sendText(gina.userId, 'retry me');
    await errors;
    // The messenger's own listener still got it (it decrypts after looking up the sender's keys, so it may finish later).
    await until(() => gina.received.length === 1, 10_000, 'the message in the messenger');
    // Drop the connection from the relay's side: restart it.
    const port = relay.port;
    await relay.stop('SIGTERM');
    await boot(port);
    await until(() => seen.length === 2, 15_000, 'the redelivery');
    expect(seen).toEqual([id, id]);
  });
});
