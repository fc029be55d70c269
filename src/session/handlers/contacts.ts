import type { FrameOf } from '../../protocol/client-frames.ts';
import { presenceEntry } from '../../presence/presence-entry.ts';
import type { UserPresence } from '../../presence/presence.ts';
import { encodeError, encodeFrame } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';

/**
 * `contact_add` / `contact_remove`. Presence is shared between mutual
 * contacts only: when an add makes a pair mutual, each side gets the
 * other's current state; when a remove breaks a pair, each side sees the
 * other go offline (and hears nothing more).
 */
export async function handleContactAdd(s: Session, frame: FrameOf<'contact_add'>, svc: Services): Promise<void> {
  const other = frame.payload.user_id;
  if (other === s.userId) return s.reply(encodeError('invalid_message', { id: frame.id, message: 'payload.user_id: cannot add yourself', timestamp: isoNow(svc) }));
  if ((await svc.contacts.add(s.userId, other, svc.now(), svc.config.MAX_CONTACTS_PER_USER)) === 'full') {
    return s.reply(encodeError('contact_limit', { id: frame.id, timestamp: isoNow(svc), extra: { max: svc.config.MAX_CONTACTS_PER_USER } }));
  }
  if (!(await svc.contacts.isMutual(s.userId, other))) return;
  // Presence never fails a contact change: with Redis unreachable both sides see the other offline until the next update.
  const seen = await svc.presenceStore.describe([other, s.userId], svc.now()).catch(() => new Map<string, UserPresence>());
  s.reply(encodeFrame('presence', isoNow(svc), { contacts: [presenceEntry(other, seen.get(other))] }));
  svc.router.push(other, encodeFrame('presence', isoNow(svc), { contacts: [presenceEntry(s.userId, seen.get(s.userId))] }));
}

export async function handleContactRemove(s: Session, frame: FrameOf<'contact_remove'>, svc: Services): Promise<void> {
  const other = frame.payload.user_id;
  const wasMutual = await svc.contacts.isMutual(s.userId, other);
  await svc.contacts.remove(s.userId, other);
  if (!wasMutual) return;
  s.reply(encodeFrame('user_offline', isoNow(svc), { user_id: other }));
  svc.router.push(other, encodeFrame('user_offline', isoNow(svc), { user_id: s.userId }));
}
