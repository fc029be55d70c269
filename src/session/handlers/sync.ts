import { messageDedupKey, newEntry } from '../../delivery/queue-entry.ts';
import { frameDigest } from '../../delivery/recent-sends.ts';
import type { FrameOf } from '../../protocol/client-frames.ts';
import { encodeDeliver, encodeError } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';
import { newSendKey, storeAndRoute } from './store-and-route.ts';

/**
 * `sync_request`, `sync_data`, `sync_ack`: device-to-device transfer between
 * two devices of one user (history, settings), stored like messages. The
 * target must be another known device of the sender's own user.
 */
export async function handleSync(s: Session, frame: FrameOf<'sync_request'> | FrameOf<'sync_data'> | FrameOf<'sync_ack'>, svc: Services): Promise<void> {
  const target = frame.payload.device_id;
  if (target === s.deviceId || !(await svc.devices.devicesOf(s.userId)).has(target)) {
    s.reply(encodeError('forbidden', { id: frame.id, message: 'sync goes to another device of your own user', timestamp: isoNow(svc) }));
    return;
  }
  const digest = frameDigest(frame.type, s.userId, [target]);
  const key = newSendKey(s, svc, frame.id, digest);
  if (key === undefined) return;
  const ts = isoNow(svc);
  const payload = frame.payload.ciphertext === undefined ? { device_id: target } : { device_id: target, ciphertext: frame.payload.ciphertext };
  storeAndRoute(s, svc, key, digest, frame.id, (onSettled) => [
    newEntry(
      {
        recipientUser: s.userId,
        recipientDevice: target,
        dedupKey: messageDedupKey(frame.type, s.userId, s.deviceId, frame.id),
        messageId: frame.id,
        kind: frame.type,
        senderUser: s.userId,
        senderDevice: s.deviceId,
        frame: encodeDeliver({ type: frame.type, messageId: frame.id, senderId: s.userId, senderDevice: s.deviceId, timestamp: ts, payload }),
        createdAt: new Date(svc.now()),
      },
      onSettled,
    ),
  ]);
}
