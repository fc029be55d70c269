import type { DeliveredReceipt } from '../../bus/bus.ts';
import { dedupKey, deliveredReceiptOf, newEntry, type QueueEntry } from '../../delivery/queue-entry.ts';
import type { FrameOf } from '../../protocol/client-frames.ts';
import { encodeError, encodeStatusUpdate, type DeliveryStatus } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';

/**
 * `delivery_ack`: the device has the entries; they leave its queue (and only
 * its queue). For each acked message from another user, the sender's
 * devices get a stored `status_update` `delivered`: stored here, or, for
 * an entry another node holds, by that node when the ack reaches it
 * (delivery-service.ts).
 */
export function handleDeliveryAck(s: Session, frame: FrameOf<'delivery_ack'>, svc: Services): Promise<void> | void {
  // Most acks name messages from one sender (a client acks what one chat delivered): that sender is
  // kept on its own, and a map is made only when a second one appears.
  let first: string | undefined;
  const firstItems: StatusItems = [];
  let others: Map<string, StatusItems> | undefined;
  for (const e of s.ack(frame.payload.message_ids, frame.payload.sender_id)) {
    const received = deliveredReceiptOf(e);
    if (!received) continue;
    svc.received.record(s.userId, received.sender, received.messageId);
    // Another node's entry: its receipt rides back with the ack, and that node stores it.
    const receipt = e.origin === undefined ? received : undefined;
    if (!receipt) continue;
    const item = { messageId: receipt.messageId, originDevice: receipt.senderDevice };
    if (first === undefined || first === receipt.sender) {
      first = receipt.sender;
      firstItems.push(item);
      continue;
    }
    const list = (others ??= new Map()).get(receipt.sender);
    if (list) list.push(item);
    else others.set(receipt.sender, [item]);
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

/**
 * `read_receipt`: the reader tells the sender's devices (or its own other
 * devices) that it read these messages. Only messages its user received
 * from that sender, as far as this node knows (acked: ReceivedLog; or in
 * flight to this device), are reported;
 * the others are dropped without an answer. A frame whose receipts would
 * store more than MAX_RECEIPT_ROWS rows stores none (`too_many_receipts`,
 * with the most ids a frame to that sender may carry).
 */
export function handleReadReceipt(s: Session, frame: FrameOf<'read_receipt'>, svc: Services): Promise<void> | void {
  const to = frame.payload.to;
  // A message delivered here but not acked yet counts too: a client may show a message, and report it read, before its ack goes out.
  const ids = to === s.userId ? frame.payload.message_ids : frame.payload.message_ids.filter((id) => s.holds(id, to) || svc.received.has(s.userId, to, id));
  if (ids.length === 0) return;
  const items = ids.map((messageId) => ({ messageId, originDevice: '*' }));
  const maxRows = svc.config.MAX_RECEIPT_ROWS;
  return queueStatus(s, svc, to, 'read', items, (devices) => {
    const rows = ids.length * devices;
    if (rows <= maxRows) return true;
    s.reply(encodeError('too_many_receipts', { id: frame.id, timestamp: isoNow(svc), extra: { max_ids: Math.max(1, Math.floor(maxRows / Math.max(1, devices))) } }));
    return false;
  });
}

/**
 * The receipt a device on another node owed for an entry this node holds,
 * come back with its ack: stored here, for the sender's devices.
 */
export function storeRelayedReceipt(svc: Services, reporter: Reporter, receipt: DeliveredReceipt): Promise<void> | void {
  return queueStatus(reporter, svc, receipt.sender, 'delivered', [{ messageId: receipt.messageId, originDevice: receipt.senderDevice }]);
}

type StatusItems = { messageId: string; originDevice: string }[];

/** The device whose ack or read a status_update reports. */
interface Reporter {
  readonly userId: string;
  readonly deviceId: string;
}

/**
 * Stores one status_update per message for each device of `user` (never the
 * reporting device itself). Receipts are best effort under overload: a
 * dropped one is logged, the message itself is already safe. Synchronous
 * when the user's devices are cached; a promise only when they are read.
 */
function queueStatus(reporter: Reporter, svc: Services, user: string, status: DeliveryStatus, items: StatusItems, allow?: RowCheck): Promise<void> | void {
  const cached = svc.devices.cached(user);
  if (cached) return storeStatus(reporter, svc, user, status, items, cached, allow);
  return svc.devices.devicesOf(user).then((devices) => storeStatus(reporter, svc, user, status, items, devices, allow));
}

/** Given how many devices each item goes to, whether the receipts may be stored (it answers the device itself when not). */
type RowCheck = (devicesPerItem: number) => boolean;

function storeStatus(reporter: Reporter, svc: Services, user: string, status: DeliveryStatus, items: StatusItems, devices: ReadonlySet<string>, allow?: RowCheck): void {
  if (allow && !allow(devices.size - (user === reporter.userId && devices.has(reporter.deviceId) ? 1 : 0))) return;
  const ts = isoNow(svc);
  const createdAt = new Date(svc.now());
  const entries: QueueEntry[] = [];
  for (const device of devices) {
    if (user === reporter.userId && device === reporter.deviceId) continue;
    for (const { messageId, originDevice } of items) {
      entries.push(
        newEntry({
          recipientUser: user,
          recipientDevice: device,
          dedupKey: dedupKey('status_update', status, reporter.userId, reporter.deviceId, originDevice, messageId),
          messageId,
          kind: 'status_update',
          senderUser: reporter.userId,
          senderDevice: reporter.deviceId,
          frame: encodeStatusUpdate(messageId, status, reporter.userId, reporter.deviceId, ts),
          createdAt,
        }),
      );
    }
  }
  if (entries.length > 0 && !svc.delivery.store(entries)) {
    svc.log.warn('status update dropped under overload', { user, status, count: entries.length });
  }
}
