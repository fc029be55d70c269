import type { DeviceEntry, MessageFrame, ServerFrame, ServerFrameOf } from '../src/protocol/server-frame-shapes.ts';
import { verifyDeviceList, signApproval, type DeviceIdentity, type VerifiedDevice, type DeviceListCheck } from './device-identity.ts';
import type { SignedDeviceList } from '../src/protocol/device-list-message.ts';
import { checkTransition, currentStatement, listCovers, signDeviceList, signedListValid, type TransitionProblem } from './device-list.ts';
import { RelayError } from './errors.ts';
import type { RelayClient } from './relay-client.ts';
import { open, seal } from './sealed-envelope.ts';

export interface TextMessage {
  id: string;
  from: string;
  fromDevice: string;
  body: string;
  timestamp: string;
  /** Set for a group message (sendGroupText). */
  groupId?: string;
}

export class UntrustedDevicesError extends Error {
  constructor(
    readonly userId: string,
    readonly untrusted: DeviceListCheck['untrusted'],
  ) {
    super(`cannot encrypt for ${userId}: ${untrusted.map((u) => `${u.deviceId} (${u.reason})`).join(', ')}`);
    this.name = 'UntrustedDevicesError';
  }
}

type ApprovalRequest = ServerFrameOf<'device_approval_request'>['payload'];
const MAX_DEVICE_LIST_RETRIES = 3;

/**
 * End-to-end encrypted text on top of a RelayClient: fetches and verifies
 * the recipient's device list, seals the message once per device
 * (sealed-envelope.ts) and sends it; opens and checks what arrives. When the
 * relay answers `mismatched_devices` the list is fetched again and the
 * message re-sealed under the same id, so the recipient still sees it once.
 * A device list that does not verify stops the send (UntrustedDevicesError)
 * rather than encrypting for a key nobody vouched for.
 */
export class SecureMessenger {
  private readonly lists = new Map<string, Promise<VerifiedDevice[]>>();
  /** Root keys seen per user, pinned for the life of this object (apps persist them). */
  private readonly pins = new Map<string, Set<string>>();

  /** Keys of our own user's devices this object verified: a promoted primary trusts the old one's signature by them. */
  private readonly ownKeys = new Set<string>();
  /** The highest signed list version seen per user: a relay that shows an older one is refused. */
  private readonly versions = new Map<string, number>();
  /** The version this device is signing now, so a burst of `devices` frames signs it once. */
  private signing: number | undefined;
  /** The latest list of our own user this device signed or checked; apps may persist it. */
  lastSignedList: SignedDeviceList | null = null;
  /** Why this primary last refused to sign the relay's list (a relay that lies to it), if it did. */
  lastListProblem: TransitionProblem | 'rolled_back' | undefined;

  constructor(
    readonly client: RelayClient,
    readonly me: { userId: string; deviceId: string; identity: DeviceIdentity },
  ) {
    // Our own user's list changes are pushed to us; other users' show up as mismatched_devices.
    // A `devices` frame for another user is only ever the answer to our own request: dropping the
    // list on it would drop the very list being fetched, and every send would fetch it again.
    client.on('devices', (f) => {
      if (f.payload.user_id !== me.userId) return;
      this.lists.delete(me.userId);
      this.keepListSigned(f.payload);
    });
    // Once caught up, look at our own list: a primary promoted while away learns it here, and signs.
    client.on('caught_up', () => void this.rawList(me.userId).catch(() => {}));
  }

  /**
   * A primary signs its user's list whenever the relay's differs from the
   * one signed last, after checking that the change follows from approvals
   * and revocations (checkTransition): a relay cannot get a revoked device
   * back into a signed list, or a device nobody approved.
   */
  private keepListSigned(p: ServerFrameOf<'devices'>['payload']): void {
    const current = currentStatement(p);
    if (!current || current.primary !== this.me.deviceId) return;
    if (this.lastSignedList && (p.signed_list?.version ?? 0) < this.lastSignedList.version) {
      this.lastListProblem = 'rolled_back';
      return;
    }
    if (listCovers(p.signed_list, current)) {
      if (p.signed_list && signedListValid(this.me.userId, p.signed_list)) this.lastSignedList = p.signed_list;
      return;
    }
    if (this.signing === current.version) return;
    const problem = checkTransition(this.me.userId, { deviceId: this.me.deviceId, identityKey: this.me.identity.identityKey }, p.signed_list, current, p.devices, this.ownKeys);
    this.lastListProblem = problem;
    if (problem) return;
    this.signing = current.version;
    const signature = signDeviceList(this.me.identity, this.me.userId, current);
    // A stale version (another list got signed first) is answered with a newer `devices` frame, which signs again.
    void this.client
      .request(
        { type: 'device_list_sign', payload: { version: current.version, signature } },
        (f: ServerFrame): f is ServerFrameOf<'device_list_signed'> => f.type === 'device_list_signed' && f.payload.version === current.version,
      )
      .then(() => (this.lastSignedList = { ...current, signer: this.me.deviceId, signature }))
      .catch(() => {})
      .finally(() => {
        if (this.signing === current.version) this.signing = undefined;
      });
  }

  /** The verified devices of `userId` (cached until it changes). */
  devicesOf(userId: string): Promise<VerifiedDevice[]> {
    let list = this.lists.get(userId);
    if (!list) {
      list = this.fetchDevices(userId);
      this.lists.set(userId, list);
      list.catch(() => this.lists.delete(userId));
    }
    return list;
  }

  /** The raw `devices` list of a user, as the relay reports it. */
  async rawDevices(userId: string): Promise<DeviceEntry[]> {
    return (await this.rawList(userId)).devices;
  }

  /** The whole `devices` payload: devices, revoked ids and the signed list. */
  async rawList(userId: string): Promise<ServerFrameOf<'devices'>['payload']> {
    const frame = await this.client.request(
      { type: 'devices_list', payload: { user_id: userId } },
      (f: ServerFrame): f is ServerFrameOf<'devices'> => f.type === 'devices' && f.payload.user_id === userId,
      { resend: true },
    );
    return frame.payload;
  }

  private async fetchDevices(userId: string): Promise<VerifiedDevice[]> {
    const list = await this.rawList(userId);
    const pins = this.pins.get(userId) ?? new Set<string>();
    const check = verifyDeviceList(userId, list.devices, pins, list.signed_list);
    if (check.signedList === 'invalid') throw new UntrustedDevicesError(userId, [{ deviceId: userId, reason: 'invalid_list' }]);
    const seen = this.versions.get(userId) ?? 0;
    if ((check.listVersion ?? 0) < seen) throw new UntrustedDevicesError(userId, [{ deviceId: userId, reason: 'stale_list' }]);
    if (check.listVersion !== null) this.versions.set(userId, check.listVersion);
    if (check.untrusted.length > 0) throw new UntrustedDevicesError(userId, check.untrusted);
    if (userId === this.me.userId) for (const d of check.trusted) this.ownKeys.add(d.identityKey);
    for (const d of check.trusted) if (d.vouchedBy === 'self') pins.add(d.identityKey);
    this.pins.set(userId, pins);
    return check.trusted;
  }

  /** Seals `body` for every device of `to` and resolves once the relay stored it. */
  async sendText(to: string, body: string, id = this.client.newId()): Promise<{ id: string }> {
    for (let attempt = 0; ; attempt++) {
      const messages = await this.sealFor(to, id, body);
      try {
        await this.client.send(to, messages, { id, message_type: 'text' });
        return { id };
      } catch (err) {
        if (!(err instanceof RelayError) || err.code !== 'mismatched_devices' || attempt >= MAX_DEVICE_LIST_RETRIES) throw err;
        this.lists.delete(to);
      }
    }
  }

  /** One envelope per device of `to` (our own device left out), signed and sealed for it. */
  private async sealFor(to: string, id: string, body: string, groupId?: string): Promise<{ device_id: string; ciphertext: string }[]> {
    const devices = (await this.devicesOf(to)).filter((d) => !(to === this.me.userId && d.deviceId === this.me.deviceId));
    const content = { v: 1 as const, from_user: this.me.userId, from_device: this.me.deviceId, to_user: to, message_id: id, ...(groupId === undefined ? {} : { group_id: groupId }), body };
    return devices.map((d) => ({ device_id: d.deviceId, ciphertext: seal({ ...content, to_device: d.deviceId }, this.me.identity, d.publicKey) }));
  }

  /**
   * Seals `body` for every device of every member of a group (our own
   * user's other devices included when `members` lists us) and sends it as
   * one group message: one `sent_ack`, one id for all. The group id is
   * sealed in each box. Members whose device sets the relay reports as
   * different are fetched again and the whole message re-sealed under the
   * same id. The member list is the application's: the relay keeps none.
   */
  async sendGroupText(groupId: string, members: readonly string[], body: string, id = this.client.newId()): Promise<{ id: string }> {
    for (let attempt = 0; ; attempt++) {
      const recipients = await Promise.all([...new Set(members)].map(async (to) => ({ to, messages: await this.sealFor(to, id, body, groupId) })));
      try {
        await this.client.sendGroup(
          groupId,
          recipients.filter((r) => r.messages.length > 0),
          { id, message_type: 'text' },
        );
        return { id };
      } catch (err) {
        if (!(err instanceof RelayError) || err.code !== 'mismatched_devices' || attempt >= MAX_DEVICE_LIST_RETRIES) throw err;
        for (const m of err.payload.mismatches ?? members.map((user_id) => ({ user_id }))) this.lists.delete(m.user_id);
      }
    }
  }

  /**
   * Calls `handler` with each message that opens and verifies. The relay
   * acks it once the handler resolved. A message that cannot be opened
   * (not for this device, forged, unknown sender device) goes to
   * `onRejected` and is acked too: it will never open, so keeping it queued
   * would only block the queue.
   */
  onText(handler: (m: TextMessage) => void | Promise<void>, onRejected: (frame: MessageFrame, reason: string) => void = () => {}): () => void {
    return this.client.on('deliver', async (f) => {
      if (f.payload.message_type !== 'text' || !f.payload.ciphertext) return;
      let sender: VerifiedDevice | undefined;
      try {
        sender = (await this.devicesOf(f.sender_id)).find((d) => d.deviceId === f.sender_device);
        if (!sender) {
          // A device approved since we cached the list: look once more.
          this.lists.delete(f.sender_id);
          sender = (await this.devicesOf(f.sender_id)).find((d) => d.deviceId === f.sender_device);
        }
      } catch (err) {
        onRejected(f, err instanceof Error ? err.message : String(err));
        return;
      }
      if (!sender) {
        onRejected(f, 'unknown_sender_device');
        return;
      }
      const opened = open(f.payload.ciphertext, this.me, { senderId: f.sender_id, senderDevice: f.sender_device, messageId: f.message_id, groupId: f.payload.group_id }, sender.publicKey);
      if (!opened.ok) {
        onRejected(f, opened.reason);
        return;
      }
      const groupId = opened.content.group_id;
      await handler({ id: f.message_id, from: f.sender_id, fromDevice: f.sender_device, body: opened.content.body, timestamp: f.timestamp, ...(groupId === undefined ? {} : { groupId }) });
    });
  }

  /** Tells `to` that these of its messages were read (a stored `status_update` for its devices). */
  markRead(to: string, messageIds: string[]): Promise<void> {
    return this.client.post({ type: 'read_receipt', payload: { to, message_ids: messageIds } });
  }

  /**
   * Approves a pending device of our user with the code the user read off
   * its screen. Resolves when the relay's device list shows it approved.
   */
  async approve(request: ApprovalRequest, code: string): Promise<void> {
    const signature = signApproval(this.me.identity, this.me.userId, request.device_id, request.identity_key, request.request_id);
    await this.client.request(
      { type: 'device_approve', payload: { request_id: request.request_id, code, signature } },
      (f: ServerFrame): f is ServerFrameOf<'devices'> => f.type === 'devices' && f.payload.user_id === this.me.userId && f.payload.devices.some((d) => d.device_id === request.device_id),
    );
  }

  /** Denies a pending device; the relay closes it for good. */
  deny(requestId: string): Promise<void> {
    return this.client.post({ type: 'device_deny', payload: { request_id: requestId } });
  }
}
