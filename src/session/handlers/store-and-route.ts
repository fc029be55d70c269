import { OverloadedError } from '../../delivery/group-commit.ts';
import { RecentSends } from '../../delivery/recent-sends.ts';
import type { QueueEntry } from '../../delivery/queue-entry.ts';
import { encodeError, encodeSentAck } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';

/** True when this device sent this id recently; a finished send is answered with its sent_ack again. */
export function isRetry(s: Session, svc: Services, messageId: string): boolean {
  const state = svc.recent.check(RecentSends.key(s.userId, s.deviceId, messageId));
  if (state === 'done') s.reply(encodeSentAck(messageId, isoNow(svc)));
  return state !== 'new';
}

/**
 * The durable half of every stored frame (send, media_key, sync_*): answers
 * a retry of a recent id without storing it again; otherwise enqueues one
 * entry per recipient device, offers them to connected devices at once, and
 * answers `sent_ack` when every entry is committed or acked (or `store_failed`
 * when the batch failed, and the client retries with the same id).
 */
export function storeAndRoute(s: Session, svc: Services, messageId: string, build: (onSettled: (ok: boolean) => void) => QueueEntry[]): void {
  const key = RecentSends.key(s.userId, s.deviceId, messageId);
  let remaining = 0;
  let failed = false;
  const onSettled = (ok: boolean): void => {
    if (!ok) failed = true;
    if (--remaining > 0) return;
    const owed = svc.recent.settle(key, !failed);
    // The answer goes to the device's current session, which may be a newer connection than this one.
    const target = svc.hub.find(s.userId, s.deviceId);
    const answer = failed ? encodeError('store_failed', { id: messageId, timestamp: isoNow(svc) }) : encodeSentAck(messageId, isoNow(svc));
    for (let i = 0; i < owed; i++) target?.reply(answer);
  };
  const entries = build(onSettled);
  remaining = entries.length;
  if (!enqueueAndOffer(svc, entries)) {
    s.reply(encodeError('overloaded', { id: messageId, timestamp: isoNow(svc), extra: { retry_after: 1 } }));
    return;
  }
  // Nothing settles synchronously (acks and commits come later), so the send is marked pending in time.
  svc.recent.begin(key);
}

/**
 * Queues stored entries for commit and hands them to connected recipients.
 * False, with nothing queued or sent, when the write queue is full.
 */
export function enqueueAndOffer(svc: Services, entries: readonly QueueEntry[]): boolean {
  try {
    svc.writer.enqueue(entries);
  } catch (err) {
    if (!(err instanceof OverloadedError)) throw err;
    return false;
  }
  svc.router.offer(entries);
  return true;
}
