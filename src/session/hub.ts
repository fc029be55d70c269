import type { LocalDevices } from '../delivery/delivery-target.ts';
import type { Session } from './session.ts';

/**
 * The sessions connected to this node, by user and device. At most one per
 * device: registering a second returns the first, which the caller closes
 * with 4409.
 */
export class Hub implements LocalDevices {
  private readonly users = new Map<string, Map<string, Session>>();
  private count = 0;

  /** `topics` hears when a user gains its first device here and loses its last (bus subscriptions follow). */
  constructor(private readonly topics: { join(user: string): void; leave(user: string): void } = { join() {}, leave() {} }) {}

  register(s: Session): Session | undefined {
    let devices = this.users.get(s.userId);
    if (!devices) {
      this.users.set(s.userId, (devices = new Map()));
      this.topics.join(s.userId);
    }
    const previous = devices.get(s.deviceId);
    devices.set(s.deviceId, s);
    if (!previous) this.count++;
    return previous;
  }

  /** Removes the session if it is still the device's current one. */
  unregister(s: Session): boolean {
    const devices = this.users.get(s.userId);
    if (devices?.get(s.deviceId) !== s) return false;
    devices.delete(s.deviceId);
    if (devices.size === 0) {
      this.users.delete(s.userId);
      this.topics.leave(s.userId);
    }
    this.count--;
    return true;
  }

  find(user: string, device: string): Session | undefined {
    return this.users.get(user)?.get(device);
  }

  devicesOf(user: string): ReadonlyMap<string, Session> | undefined {
    return this.users.get(user);
  }

  get size(): number {
    return this.count;
  }

  *all(): IterableIterator<Session> {
    for (const devices of this.users.values()) yield* devices.values();
  }
}
