import { frameDigest } from '../../delivery/recent-sends.ts';
import { hasDuplicates, mismatchedDevices, recipientDevices, addressesExactly, type DeviceMismatch } from '../../devices/device-set.ts';
import { encodeError } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';
import { storeMessage, type GroupSendFrame } from './send.ts';
import { newSendKey } from './store-and-route.ts';

/**
 * A `send` with `recipients`: one message to several users (a group), with
 * a ciphertext for every device of each. Checked whole before anything is
 * stored: bounds (MAX_GROUP_RECIPIENTS, MAX_GROUP_ROWS), then each
 * recipient's device set as for a send to one user; any mismatch refuses
 * the whole message, naming each user whose devices differ. Stored under
 * one message id with one `sent_ack`, sent once every recipient device
 * has it; `store_failed` asks for a retry under the same id, which the
 * devices that already have it do not get twice.
 *
 * A group send counts as one stored frame against the sender's message
 * budget; MAX_GROUP_ROWS bounds what one frame may store.
 */
export function handleGroupSend(s: Session, frame: GroupSendFrame, svc: Services): Promise<void> | void {
  const p = frame.payload;
  const rows = p.recipients.reduce((n, r) => n + r.messages.length, 0);
  if (p.recipients.length > svc.config.MAX_GROUP_RECIPIENTS || rows > svc.config.MAX_GROUP_ROWS) {
    s.reply(encodeError('group_too_large', { id: frame.id, timestamp: isoNow(svc), extra: { max_recipients: svc.config.MAX_GROUP_RECIPIENTS, max_rows: svc.config.MAX_GROUP_ROWS } }));
    return;
  }
  const invalid = (message: string) => s.reply(encodeError('invalid_message', { id: frame.id, message, timestamp: isoNow(svc) }));
  if (hasDuplicates(p.recipients.map((r) => r.to))) return invalid('payload.recipients: a user appears twice');
  const twice = p.recipients.find((r) => hasDuplicates(r.messages.map((m) => m.device_id)));
  if (twice) return invalid(`payload.recipients: a device of ${twice.to} appears twice`);
  const digest = frameDigest(
    'group',
    p.group_id,
    p.recipients.flatMap((r) => r.messages.map((m) => `${r.to}\u0000${m.device_id}`)),
  );
  const key = newSendKey(s, svc, frame.id, digest);
  if (key === undefined) return;
  const own = (to: string) => (to === s.userId ? s.deviceId : undefined);
  const unsure = p.recipients.filter((r) => {
    const cached = svc.devices.cached(r.to);
    return (
      !cached ||
      !addressesExactly(
        cached,
        r.messages.map((m) => m.device_id),
        own(r.to),
      )
    );
  });
  if (unsure.length === 0) return store(s, frame, svc, key, digest);
  return checkThenStore(s, frame, svc, unsure, key, digest);
}

async function checkThenStore(s: Session, frame: GroupSendFrame, svc: Services, unsure: GroupSendFrame['payload']['recipients'], key: string, digest: number): Promise<void> {
  const mismatchOf = async (r: (typeof unsure)[number], fresh: boolean): Promise<DeviceMismatch | undefined> =>
    mismatchedDevices(
      recipientDevices(await svc.devices.devicesOf(r.to, fresh), r.to, s.userId, s.deviceId),
      r.messages.map((m) => m.device_id),
    );
  // The members' device sets are read side by side, not one after another; the cache may be behind,
  // so only a fresh read decides that the sender is wrong.
  const found = await Promise.all(unsure.map(async (r) => ((await mismatchOf(r, false)) && (await mismatchOf(r, true))) || undefined));
  const mismatches = unsure.flatMap((r, i) => (found[i] ? [{ user_id: r.to, ...found[i] }] : []));
  if (mismatches.length > 0) {
    // Nothing is stored and the id is not taken (newSendKey records nothing): the corrected message may use it.
    s.reply(encodeError('mismatched_devices', { id: frame.id, timestamp: isoNow(svc), extra: { mismatches } }));
    return;
  }
  store(s, frame, svc, key, digest);
}

function store(s: Session, frame: GroupSendFrame, svc: Services, key: string, digest: number): void {
  const p = frame.payload;
  const meta: Record<string, string | number> = { group_id: p.group_id, group_size: p.recipients.length };
  if (p.message_type !== undefined) meta['message_type'] = p.message_type;
  if (p.media_id !== undefined) meta['media_id'] = p.media_id;
  storeMessage(s, svc, { key, digest, kind: 'deliver', messageId: frame.id, targets: p.recipients, meta });
}
