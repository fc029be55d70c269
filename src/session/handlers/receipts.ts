import { dedupKey, newEntry, type QueueEntry } from '../../delivery/queue-entry.ts';
import type { FrameOf } from '../../protocol/client-frames.ts';
import { encodeStatusUpdate, type DeliveryStatus } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';
import { enqueueAndOffer } from './store-and-route.ts';

/**
 * `delivery_ack`: the device has the entries; they leave its queue (and only
 * its queue). For each acked message from another user, the sender's
 * devices get a stored `status_update` `delivered`.
 */
export function handleDeliveryAck(s: Session, frame: FrameOf<'delivery_ack'>, svc: Services): Promise<void> | void {
  // Most acks name messages from one sender (a client acks what one chat delivered): that sender is
  // kept on its own, and a map is made only when a second one appears.
  let first: string | undefined;
  const firstItems: StatusItems = [];
  let others: Map<string, StatusItems> | undefined;
  for (const e of s.ack(frame.payload.message_ids)) {
    if ((e.kind !== 'deliver' && e.kind !== 'media_key') || e.senderUser === s.userId) continue;
    const item = { messageId: e.messageId, originDevice: e.senderDevice };
    if (first === undefined || first === e.senderUser) {
      first = e.senderUser;
      firstItems.push(item);
      continue;
    }
    const list = (others ??= new Map()).get(e.senderUser);
    if (list) list.push(item);
    else others.set(e.senderUser, [item]);
  }
  if (first === undefined) return;
  const pending = queueStatus(s, svc, first, 'delivered', firstItems);
  if (!others) return pending;
  const loading: Promise<void>[] = pending ? [pending] : [];
  for (const [sender, items] of others) {
    const p = queueStatus(s, svc, sender, 'delivered', items);
    if (p) loading.push(p);
  }
  if (loading.length > 0) return Promise.all(loading).then(() => undefined);
}

/** `read_receipt`: the reader tells the sender's devices (or its own other devices) that it read these messages. */
export function handleReadReceipt(s: Session, frame: FrameOf<'read_receipt'>, svc: Services): Promise<void> | void {
  return queueStatus(s, svc, frame.payload.to, 'read', frame.payload.message_ids.map((messageId) => ({ messageId, originDevice: '*' })));
}

type StatusItems = { messageId: string; originDevice: string }[];

/**
 * Stores one status_update per message for each device of `user` (never the
 * reporting device itself). Receipts are best effort under overload: a
 * dropped one is logged, the message itself is already safe. Synchronous
 * when the user's devices are cached; a promise only when they are read.
 */
function queueStatus(s: Session, svc: Services, user: string, status: DeliveryStatus, items: StatusItems): Promise<void> | void {
  const cached = svc.devices.cached(user);
  if (cached) return storeStatus(s, svc, user, status, items, cached);
  return svc.devices.devicesOf(user).then((devices) => storeStatus(s, svc, user, status, items, devices));
}

function storeStatus(s: Session, svc: Services, user: string, status: DeliveryStatus, items: StatusItems, devices: ReadonlySet<string>): void {
  const ts = isoNow(svc);
  const createdAt = new Date(svc.now());
  const entries: QueueEntry[] = [];
  for (const device of devices) {
    if (user === s.userId && device === s.deviceId) continue;
    for (const { messageId, originDevice } of items) {
      entries.push(
        newEntry({
          recipientUser: user,
          recipientDevice: device,
          dedupKey: dedupKey('status_update', status, s.userId, s.deviceId, originDevice, messageId),
          messageId,
          kind: 'status_update',
          senderUser: s.userId,
          senderDevice: s.deviceId,
          frame: encodeStatusUpdate(messageId, status, s.userId, s.deviceId, ts),
          createdAt,
        }),
      );
    }
  }
  if (entries.length > 0 && !enqueueAndOffer(svc, entries)) {
    svc.log.warn('status update dropped under overload', { user, status, count: entries.length });
  }
}
