import { messageDedupKey, newEntry } from '../../delivery/queue-entry.ts';
import { hasDuplicates, mismatchedDevices, recipientDevices } from '../../devices/device-set.ts';
import type { FrameOf } from '../../protocol/client-frames.ts';
import { encodeDeliver, encodeError } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';
import { isRetry, storeAndRoute } from './store-and-route.ts';

/**
 * `send` and `media_key`: one ciphertext per recipient device, checked
 * against the recipient's device set before anything is stored, so a sender
 * never believes a message reached a device it did not encrypt for.
 */
export async function handleSend(s: Session, frame: FrameOf<'send'> | FrameOf<'media_key'>, svc: Services): Promise<void> {
  const p = frame.payload;
  const addressed = p.messages.map((m) => m.device_id);
  const ts = isoNow(svc);
  if (hasDuplicates(addressed)) {
    s.reply(encodeError('invalid_message', { id: frame.id, message: 'payload.messages: a device appears twice', timestamp: ts }));
    return;
  }
  if (isRetry(s, svc, frame.id)) return;

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
    s.reply(encodeError(code, { id: frame.id, timestamp: ts, extra: code === 'mismatched_devices' ? { ...mismatch } : {} }));
    return;
  }

  const kind = frame.type === 'send' ? 'deliver' : 'media_key';
  const meta: Record<string, string> =
    frame.type === 'send'
      ? pick({ message_type: frame.payload.message_type, group_id: frame.payload.group_id, media_id: frame.payload.media_id })
      : pick({ media_id: frame.payload.media_id, algorithm: frame.payload.algorithm, message_type: frame.payload.message_type });
  const createdAt = new Date(svc.now());
  const dedupKey = messageDedupKey(kind, s.userId, s.deviceId, frame.id);

  storeAndRoute(s, svc, frame.id, (onSettled) =>
    p.messages.map((m) =>
      newEntry(
        {
          recipientUser: p.to,
          recipientDevice: m.device_id,
          dedupKey,
          messageId: frame.id,
          kind,
          senderUser: s.userId,
          senderDevice: s.deviceId,
          frame: encodeDeliver({ type: kind, messageId: frame.id, senderId: s.userId, senderDevice: s.deviceId, timestamp: ts, payload: { ciphertext: m.ciphertext, ...meta } }),
          createdAt,
        },
        onSettled,
      ),
    ),
  );
}

function pick(fields: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}
