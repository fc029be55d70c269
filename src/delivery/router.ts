import { BROADCAST, type Bus, type BusMessage, type WireEntry } from '../bus/bus.ts';
import type { LocalDevices } from './delivery-target.ts';
import { committedEntry, type QueueEntry } from './queue-entry.ts';

/**
 * Hands frames to devices, wherever they are connected.
 *
 * - Stored entries go to a device connected here at once, before their
 *   batch commits (it may ack early and spare the write). Entries for
 *   devices not connected here are published to the recipient user's bus
 *   topic once committed, so that the node holding the device can take the
 *   ack and delete the row; a device connected nowhere gets them from its
 *   backlog when it connects.
 * - Ephemeral frames go to local devices and, through the bus, to the
 *   user's devices on other nodes.
 * The router never asks anyone where a device is: no lookup per message.
 */
export class Router {
  constructor(
    private readonly local: LocalDevices,
    private readonly bus: Bus,
  ) {}

  offer(entries: readonly QueueEntry[]): void {
    for (const e of entries) this.local.find(e.recipientUser, e.recipientDevice)?.offer(e);
  }

  /** Writer hook: committed entries for devices not connected here go to the other nodes. */
  forwardCommitted(entries: readonly QueueEntry[]): void {
    let byUser: Map<string, WireEntry[]> | undefined;
    for (const e of entries) {
      if (e.state !== 'committed' || this.local.find(e.recipientUser, e.recipientDevice)) continue;
      byUser ??= new Map();
      const wire: WireEntry = {
        recipientUser: e.recipientUser,
        recipientDevice: e.recipientDevice,
        dedupKey: e.dedupKey,
        messageId: e.messageId,
        kind: e.kind,
        senderUser: e.senderUser,
        senderDevice: e.senderDevice,
        frame: e.frame,
        createdAt: e.createdAt.getTime(),
      };
      const list = byUser.get(e.recipientUser);
      if (list) list.push(wire);
      else byUser.set(e.recipientUser, [wire]);
    }
    if (byUser) for (const [user, list] of byUser) this.bus.publish(user, { k: 'entries', entries: list });
  }

  /**
   * Sends an ephemeral frame to a user's approved devices here (all, one, or
   * all but one) and through the bus to the other nodes. Returns how many
   * devices it reached on this node.
   */
  push(user: string, frame: string, opts: { device?: string | undefined; except?: string | undefined } = {}): number {
    this.bus.publish(user, { k: 'push', frame, device: opts.device, except: opts.except });
    return this.pushLocal(user, frame, opts);
  }

  /** Bus messages for delivery: entries and pushes for devices connected here. */
  receive(topic: string, msg: BusMessage): void {
    if (topic === BROADCAST) return;
    if (msg.k === 'entries') {
      for (const w of msg.entries) this.local.find(w.recipientUser, w.recipientDevice)?.offer(committedEntry({ ...w, createdAt: new Date(w.createdAt) }));
    } else if (msg.k === 'push') {
      this.pushLocal(topic, msg.frame, msg);
    }
  }

  /** Whether the user (or that one device) has an approved device connected here. */
  isOnline(user: string, device?: string): boolean {
    const devices = this.local.devicesOf(user);
    if (!devices) return false;
    for (const d of devices) if (d.isApproved && (device === undefined || d.deviceId === device)) return true;
    return false;
  }

  private pushLocal(user: string, frame: string, opts: { device?: string | undefined; except?: string | undefined }): number {
    const devices = this.local.devicesOf(user);
    if (!devices) return 0;
    let reached = 0;
    for (const target of devices) {
      if (target.deviceId === opts.except || (opts.device !== undefined && target.deviceId !== opts.device)) continue;
      if (target.push(frame)) reached++;
    }
    return reached;
  }
}
