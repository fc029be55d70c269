import type { FrameOf } from '../../protocol/client-frames.ts';
import { presenceEntry } from '../../presence/presence-entry.ts';
import { encodeFrame } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';

/** `presence` from a device: its state (`online`, `away`, `busy`), shown to the user's mutual contacts at once. */
export async function handlePresence(s: Session, frame: FrameOf<'presence'>, svc: Services): Promise<void> {
  await svc.presence.setState(s, frame.payload.status);
}

/**
 * `online_contacts`: which mutual contacts are online now, with their live
 * devices and states, cluster-wide (leases are shared). Contacts who are
 * offline are left out; the `presence` snapshot at connect lists them all.
 */
export async function handleOnlineContacts(s: Session, _frame: FrameOf<'online_contacts'>, svc: Services): Promise<void> {
  const mutual = await svc.contacts.mutual(s.userId);
  const seen = await svc.presenceStore.describe(mutual, svc.now());
  const contacts = mutual.map((u) => presenceEntry(u, seen.get(u))).filter((c) => c.online);
  s.reply(encodeFrame('online_contacts', isoNow(svc), { contacts }));
}
