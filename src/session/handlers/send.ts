import { messageDedupKey, newEntry } from '../../delivery/queue-entry.ts';
import { frameDigest } from '../../delivery/recent-sends.ts';
import { addressesExactly, hasDuplicates, mismatchedDevices, recipientDevices } from '../../devices/device-set.ts';
import type { FrameOf } from '../../protocol/client-frames.ts';
import { encodeDeliver, encodeError } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';
import { handleGroupSend } from './group-send.ts';
import { newSendKey, storeAndRoute } from './store-and-route.ts';

type SendPayload = FrameOf<'send'>['payload'];
/** A `send` to one user, or a `media_key`. */
type SendFrame = (FrameOf<'send'> & { payload: Exclude<SendPayload, { recipients: unknown }> }) | FrameOf<'media_key'>;
/** A `send` to several users at once (group-send.ts). */
export type GroupSendFrame = FrameOf<'send'> & { payload: Extract<SendPayload, { recipients: unknown }> };

const storedKind = (frame: SendFrame): 'deliver' | 'media_key' => (frame.type === 'send' ? 'deliver' : 'media_key');

/**
 * `send` and `media_key`: one ciphertext per recipient device, checked
 * against the recipient's device set before anything is stored, so a sender
 * never believes a message reached a device it did not encrypt for.
 *
 * When the cached device set matches, the handler finishes without a
 * promise (the common case, on the hot path); otherwise it reads the set
 * and answers from what it read.
 */
export function handleSend(s: Session, frame: FrameOf<'send'> | FrameOf<'media_key'>, svc: Services): Promise<void> | void {
  if ('recipients' in frame.payload) return handleGroupSend(s, frame as GroupSendFrame, svc);
  return handleOneSend(s, frame as SendFrame, svc);
}

function handleOneSend(s: Session, frame: SendFrame, svc: Services): Promise<void> | void {
  const p = frame.payload;
  const addressed = p.messages.map((m) => m.device_id);
  if (hasDuplicates(addressed)) {
    s.reply(encodeError('invalid_message', { id: frame.id, message: 'payload.messages: a device appears twice', timestamp: isoNow(svc) }));
    return;
  }
  const digest = frameDigest(storedKind(frame), p.to, addressed);
  const key = newSendKey(s, svc, frame.id, digest);
  if (key === undefined) return;
  const cached = svc.devices.cached(p.to);
  if (cached && addressesExactly(cached, addressed, p.to === s.userId ? s.deviceId : undefined)) return store(s, frame, svc, key, digest);
  return checkThenStore(s, frame, svc, addressed, key, digest);
}

async function checkThenStore(s: Session, frame: SendFrame, svc: Services, addressed: readonly string[], key: string, digest: number): Promise<void> {
  const p = frame.payload;
  const expectedFrom = async (fresh: boolean) => recipientDevices(await svc.devices.devicesOf(p.to, fresh), p.to, s.userId, s.deviceId);
  let expected = await expectedFrom(false);
  let mismatch = mismatchedDevices(expected, addressed);
  if (mismatch) {
    // The cache may be behind: only a fresh read decides that the sender is wrong.
    expected = await expectedFrom(true);
    mismatch = mismatchedDevices(expected, addressed);
  }
  if (mismatch) {
    const code = expected.size === 0 && p.to !== s.userId ? 'unknown_recipient' : 'mismatched_devices';
    s.reply(encodeError(code, { id: frame.id, timestamp: isoNow(svc), extra: code === 'mismatched_devices' ? { ...mismatch } : {} }));
    return;
  }
  store(s, frame, svc, key, digest);
}

function store(s: Session, frame: SendFrame, svc: Services, key: string, digest: number): void {
  const p = frame.payload;
  const meta: Record<string, string> = {};
  if (p.message_type !== undefined) meta['message_type'] = p.message_type;
  if (frame.type === 'send' && frame.payload.group_id !== undefined) meta['group_id'] = frame.payload.group_id;
  if (p.media_id !== undefined) meta['media_id'] = p.media_id;
  if (frame.type === 'media_key') meta['algorithm'] = frame.payload.algorithm;
  storeMessage(s, svc, { key, digest, kind: storedKind(frame), messageId: frame.id, targets: [p], meta });
}

/** One recipient user of a stored message, with a ciphertext per device. */
export interface MessageTarget {
  to: string;
  messages: readonly { device_id: string; ciphertext: string }[];
}

/**
 * Stores one message (a send, a media key, a group send) as one entry per
 * recipient device, all under one message id: one `sent_ack` once every
 * entry is committed or acked (store-and-route.ts).
 */
export function storeMessage(
  s: Session,
  svc: Services,
  m: { key: string; digest: number; kind: 'deliver' | 'media_key'; messageId: string; targets: readonly MessageTarget[]; meta: Record<string, string | number> },
): void {
  const ts = isoNow(svc);
  const createdAt = new Date(svc.now());
  const dedupKey = messageDedupKey(m.kind, s.userId, s.deviceId, m.messageId);
  storeAndRoute(s, svc, m.key, m.digest, m.messageId, (onSettled) =>
    m.targets.flatMap((t) =>
      t.messages.map((d) =>
        newEntry(
          {
            recipientUser: t.to,
            recipientDevice: d.device_id,
            dedupKey,
            messageId: m.messageId,
            kind: m.kind,
            senderUser: s.userId,
            senderDevice: s.deviceId,
            frame: encodeDeliver({ type: m.kind, messageId: m.messageId, senderId: s.userId, senderDevice: s.deviceId, timestamp: ts, payload: { ciphertext: d.ciphertext, ...m.meta } }),
            createdAt,
          },
          onSettled,
        ),
      ),
    ),
  );
}
