import type { LocalDevices } from '../delivery/delivery-target.ts';
import type { Session } from './session.ts';

/**
 * The sessions connected to this node, by user and device. At most one per
 * device: registering a second returns the first, which the caller closes
 * with 4409.
 *
 * A user's sessions are a small array, not a map: a user has a handful of
 * devices at most (MAX_DEVICES_PER_USER), a scan of that is as quick as a
 * hash lookup, and an idle connection is then a few hundred bytes lighter.
 */
export class Hub implements LocalDevices {
  private readonly users = new Map<string, Session[]>();
  private count = 0;

  /** `topics` hears when a user gains its first device here and loses its last (bus subscriptions follow). */
  constructor(private readonly topics: { join(user: string): void; leave(user: string): void } = { join() {}, leave() {} }) {}

  register(s: Session): Session | undefined {
    const sessions = this.users.get(s.userId);
    if (!sessions) {
      this.users.set(s.userId, [s]);
      this.topics.join(s.userId);
      this.count++;
      return undefined;
    }
    const i = sessions.findIndex((x) => x.deviceId === s.deviceId);
    if (i === -1) {
      sessions.push(s);
      this.count++;
      return undefined;
    }
    const previous = sessions[i];
    sessions[i] = s;
    return previous;
  }

  /** Removes the session if it is still the device's current one. */
  unregister(s: Session): boolean {
    const sessions = this.users.get(s.userId);
    const i = sessions ? sessions.indexOf(s) : -1;
    if (!sessions || i === -1) return false;
    sessions.splice(i, 1);
    if (sessions.length === 0) {
      this.users.delete(s.userId);
      this.topics.leave(s.userId);
    }
    this.count--;
    return true;
  }

  find(user: string, device: string): Session | undefined {
    const sessions = this.users.get(user);
    if (!sessions) return undefined;
    for (const s of sessions) if (s.deviceId === device) return s;
    return undefined;
  }

  devicesOf(user: string): readonly Session[] | undefined {
    return this.users.get(user);
  }

  get size(): number {
    return this.count;
  }

  *all(): IterableIterator<Session> {
    for (const sessions of this.users.values()) yield* sessions;
  }
}
