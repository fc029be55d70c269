import sodium from 'libsodium-wrappers';
import { approvalMessage } from '../../src/protocol/approval-message.ts';
import { TestClient, type Frame } from './ws-client.ts';

export interface DeviceKeys {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
  b64: string;
}

/**
 * Test users with real device identities. `online(user, device)` returns a
 * connected, approved device: the first device of a user registers as its
 * primary; any later one registers, and the primary (the test's own
 * connection if it has one open, else a short-lived one) signs and approves
 * it with the code the new device was shown, exactly as a client would.
 */
export class Accounts {
  private readonly keys = new Map<string, DeviceKeys>();
  private readonly live = new Map<string, TestClient>();
  private readonly primaries = new Map<string, string>();

  constructor(private readonly url: string) {}

  static async ready(): Promise<void> {
    await sodium.ready;
  }

  keysOf(user: string, device: string): DeviceKeys {
    const k = `${user}|${device}`;
    let keys = this.keys.get(k);
    if (!keys) {
      const kp = sodium.crypto_sign_keypair();
      keys = { publicKey: kp.publicKey, privateKey: kp.privateKey, b64: Buffer.from(kp.publicKey).toString('base64') };
      this.keys.set(k, keys);
    }
    return keys;
  }

  /** Names the device that now approves for the user (after a primary was revoked and another promoted). */
  setPrimary(user: string, device: string): void {
    this.primaries.set(user, device);
  }

  primaryOf(user: string): string | undefined {
    return this.primaries.get(user);
  }

  /** A connected, approved device that has received its backlog (`queue_empty`); `url` picks another relay node. */
  async online(user: string, device: string, url = this.url): Promise<TestClient> {
    const c = await TestClient.connect(url, user, device);
    this.live.set(`${user}|${device}`, c);
    if (this.primaries.has(user) && (this.primaries.get(user) === device || this.approvedBefore.has(`${user}|${device}`))) {
      await c.next('queue_empty');
      return c;
    }
    const pending = await this.register(c, user, device);
    if (pending === undefined) {
      this.primaries.set(user, device);
    } else {
      await this.approveFromPrimary(user, pending);
      await c.next('device_approved');
    }
    this.approvedBefore.add(`${user}|${device}`);
    await c.next('queue_empty');
    return c;
  }

  private readonly approvedBefore = new Set<string>();

  /** Sends device_register; returns the pending frame, or undefined when the device became primary. */
  async register(c: TestClient, user: string, device: string): Promise<Frame | undefined> {
    c.send({ type: 'device_register', payload: { identity_key: this.keysOf(user, device).b64, device_name: `${device} of ${user}`, device_type: 'test' } });
    const f = await c.next((x) => x.type === 'device_approved' || x.type === 'device_approval_pending' || x.type === 'error');
    if (f.type === 'error') throw new Error(`register failed: ${JSON.stringify(f)}`);
    return f.type === 'device_approval_pending' ? f : undefined;
  }

  /** The primary's signature over the approval bytes, base64. */
  sign(user: string, primary: string, device: string, requestId: string): string {
    const msg = approvalMessage(user, device, this.keysOf(user, device).publicKey, requestId);
    return Buffer.from(sodium.crypto_sign_detached(msg, this.keysOf(user, primary).privateKey)).toString('base64');
  }

  /** Approves a pending request from the user's primary, connecting it for the purpose when the test has no open socket for it. */
  async approveFromPrimary(user: string, pending: Frame): Promise<void> {
    const primary = this.primaries.get(user);
    if (!primary) throw new Error(`${user} has no primary`);
    const open = this.live.get(`${user}|${primary}`);
    const usable = open !== undefined && open.ws.readyState === open.ws.OPEN;
    const p = usable ? open : await TestClient.connect(this.url, user, primary);
    const requestId = String(pending.payload['request_id']);
    const request = await p.next((f) => f.type === 'device_approval_request' && f.payload['request_id'] === requestId);
    const device = String(request.payload['device_id']);
    p.send({ type: 'device_approve', payload: { request_id: requestId, code: pending.payload['code'], signature: this.sign(user, primary, device, requestId) } });
    p.send({ type: 'delivery_ack', payload: { message_ids: [requestId] } });
    if (!usable) {
      await p.next('devices');
      await p.close();
    }
  }
}
