import type { ContactPresence } from '../protocol/server-frame-shapes.ts';
import { userStatus, type UserPresence } from './presence.ts';

/** A user's presence as a frame carries it to contacts: status, live devices with their types, last seen when offline. */
export function presenceEntry(user: string, p: UserPresence | undefined): ContactPresence {
  const devices = p?.devices ?? [];
  const status = userStatus(devices);
  return {
    user_id: user,
    online: status !== 'offline',
    status,
    ...(status === 'offline' && p?.lastSeen !== undefined ? { last_seen: new Date(p.lastSeen).toISOString() } : {}),
    devices: devices.map((d) => ({ device_id: d.device, device_type: d.type, status: d.state })),
  };
}
