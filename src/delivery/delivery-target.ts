import type { QueueEntry } from './queue-entry.ts';

/** A connected device, as the router sees it. */
export interface DeliveryTarget {
  readonly deviceId: string;
  /** Devices not approved yet receive nothing addressed to their user. */
  readonly isApproved: boolean;
  /** A stored entry for this device: delivered now, or later from the backlog. */
  offer(entry: QueueEntry): void;
  /** An ephemeral frame (typing, call signalling): sent if possible, never stored. */
  push(frame: string): boolean;
}

/** Finds connected devices on this node. */
export interface LocalDevices {
  find(user: string, device: string): DeliveryTarget | undefined;
  /** The user's devices connected here; undefined when none is. */
  devicesOf(user: string): readonly DeliveryTarget[] | undefined;
}
