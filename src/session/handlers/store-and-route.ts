import type { QueueEntry } from '../../delivery/queue-entry.ts';
import { encodeError, encodeSentAck } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';

/** The recent-sends key of a stored frame from this device. */
export const sendKey = (s: Session, messageId: string): string => s.sendKeyPrefix + messageId;

/**
 * The recent-sends key of a send from this device, or undefined when the id
 * was sent lately: a retry of a finished send is answered with its sent_ack
 * again, one of a pending send when its first copy settles, and another
 * frame under that id (`digest` differs: see frameDigest) with `id_reused`,
 * storing and acking nothing.
 */
export function newSendKey(s: Session, svc: Services, messageId: string, digest: number): string | undefined {
  const key = sendKey(s, messageId);
  const state = svc.recent.check(key, digest);
  if (state === 'new') return key;
  if (state === 'done') s.reply(encodeSentAck(messageId, isoNow(svc)));
  else if (state === 'reused') s.reply(encodeError('id_reused', { id: messageId, timestamp: isoNow(svc) }));
  return undefined;
}

/**
 * The durable half of every stored frame (send, media_key, sync_*), for a
 * send that `newSendKey` found new: enqueues one entry per recipient device,
 * offers them to connected devices at once, and answers `sent_ack` when
 * every entry is committed or acked (or `store_failed` when the batch
 * failed, and the client retries with the same id).
 */
export function storeAndRoute(s: Session, svc: Services, key: string, digest: number, messageId: string, build: (onSettled: (ok: boolean) => void) => QueueEntry[]): void {
  let remaining = 0;
  let failed = false;
  const started = performance.now();
  // Pending from here on: a retry that arrives before the entries settle is counted and answered with them.
  const rec = svc.recent.begin(key, digest);
  const onSettled = (ok: boolean): void => {
    if (!ok) failed = true;
    if (--remaining > 0) return;
    const owed = svc.recent.settle(rec, !failed);
    // The answer goes to the device's current session, which may be a newer connection than this one.
    const target = svc.hub.find(s.userId, s.deviceId);
    const answer = failed ? encodeError('store_failed', { id: messageId, timestamp: isoNow(svc) }) : encodeSentAck(messageId, isoNow(svc));
    if (!failed) svc.counters.sentAck.observe((performance.now() - started) / 1000);
    for (let i = 0; i < owed; i++) target?.reply(answer);
  };
  const entries = build(onSettled);
  remaining = entries.length;
  if (!svc.delivery.store(entries)) {
    // Nothing was queued: forget the send, so that its retry is stored.
    svc.recent.settle(rec, false);
    s.reply(encodeError('overloaded', { id: messageId, timestamp: isoNow(svc), extra: { retry_after: 1 } }));
  }
}
