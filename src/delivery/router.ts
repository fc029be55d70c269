import type { LocalDevices } from './delivery-target.ts';
import type { QueueEntry } from './queue-entry.ts';

/**
 * Hands frames to connected devices. Stored entries are offered to the
 * recipient device's session at once, before their batch commits: the
 * device may ack early and spare the write. A device that is not connected
 * here gets its entries from the backlog when it connects.
 */
export class Router {
  constructor(private readonly local: LocalDevices) {}

  offer(entries: readonly QueueEntry[]): void {
    for (const e of entries) this.local.find(e.recipientUser, e.recipientDevice)?.offer(e);
  }

  /**
   * Sends an ephemeral frame to a user's connected devices (or to one of
   * them), skipping `except`. Returns how many devices it reached.
   */
  push(user: string, frame: string, opts: { device?: string | undefined; except?: string | undefined } = {}): number {
    const devices = this.local.devicesOf(user);
    if (!devices) return 0;
    let reached = 0;
    if (opts.device !== undefined) {
      return opts.device !== opts.except && devices.get(opts.device)?.push(frame) ? 1 : 0;
    }
    for (const [id, target] of devices) if (id !== opts.except && target.push(frame)) reached++;
    return reached;
  }

  /** Whether the user (or that one device) has an approved device connected here. */
  isOnline(user: string, device?: string): boolean {
    const devices = this.local.devicesOf(user);
    if (!devices) return false;
    if (device !== undefined) return devices.get(device)?.isApproved === true;
    for (const d of devices.values()) if (d.isApproved) return true;
    return false;
  }
}
