import type { CallSignal } from '../calls/call-registry.ts';
import type { DeviceStatus } from '../db/schema.ts';
import type { WireEntry } from '../delivery/queue-entry.ts';

/**
 * How relay nodes talk to each other. Topics are user ids: a node
 * subscribes to a user's topic while at least one of that user's devices is
 * connected to it, and anyone may publish to any topic (a publish nobody
 * listens to is dropped; stored messages are in Postgres anyway). One more
 * topic, `BROADCAST`, reaches every node.
 *
 * Guarantees: a message reaches every other subscribed node at most once,
 * in publish order per publishing node and topic; a node never receives its
 * own publishes. No delivery guarantee beyond that: after an outage the
 * bus calls `onResync`, and nodes re-read what they may have missed from
 * Postgres.
 */
export interface Bus {
  readonly nodeId: string;
  /**
   * False when nothing this node publishes can reach another node (one relay
   * on the in-process bus): a device not connected here is connected nowhere.
   * A shared bus answers true, since other nodes may come and go.
   */
  readonly hasPeers: boolean;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /**
   * True once every message published to the topic from now on reaches this
   * node: the broker confirmed the subscription. Until then, a promise that
   * resolves when it does, or when the topic is unsubscribed. A session
   * goes live only after this (session.ts): before, a message published by
   * another node could pass this node by while a later one, sent from here,
   * reached the device.
   */
  listening(topic: string): true | Promise<void>;
  /**
   * `reached`, when given, is called on a later turn with the message and
   * the number of other nodes it reached: 0 when none subscribes to the
   * topic or the bus is down. It is a hint, never a guarantee: a node that
   * subscribes or leaves at the same moment may be counted either way.
   */
  publish(topic: string, msg: BusMessage, reached?: Reached): void;
  onMessage(handler: (topic: string, msg: BusMessage) => void): void;
  /**
   * Called after the bus lost messages: a Redis outage ended, or another
   * node could not publish for a while. At most once a second; requests in
   * between are folded into one at the end of that second.
   */
  onResync(handler: () => void): void;
  /**
   * Called at once, every time the bus learns that messages may have been
   * lost, and before it hands on any message it received after learning
   * it: the moment to stop delivering live until the queues are re-read,
   * so that what arrives next does not overtake what was missed.
   */
  onLoss(handler: () => void): void;
  /** Counts since start, read by the metrics. */
  stats(): BusStats;
  close(): Promise<void>;
}

/** A publisher's hook: how many other nodes a message reached. */
export interface BusStats {
  /** PUBLISH commands written (one per topic per turn of the loop), and their payload bytes. */
  publishes: number;
  publishedBytes: number;
  /** Publishes that failed (Redis down or slow): their messages did not leave this node. */
  publishFailures: number;
  /** Batches read from other nodes. */
  received: number;
}

export type Reached = (msg: BusMessage, others: number) => void;

export const BROADCAST = '*';

/**
 * A node's own topic, for answers addressed to it (acks of the entries it
 * holds). '#' is not allowed in ids, so no user topic can collide with it.
 */
export const nodeTopic = (nodeId: string): string => `#${nodeId}`;

/** The message whose sender's devices get a `status_update` `delivered` for an ack. */
export interface DeliveredReceipt {
  sender: string;
  senderDevice: string;
  messageId: string;
}

export type BusMessage =
  /**
   * Stored entries for devices of the topic's user. `node` holds them in its
   * writer (committed or about to be) and takes their acks (`ack`).
   * `again` marks copies published a second time, at their commit; a
   * first copy carries `s`, its number on `node`, for `absent` answers.
   */
  | { k: 'entries'; node: string; entries: WireEntry[]; again?: true; s?: number }
  /**
   * On a node's own topic: the sending node holds none of these devices
   * (user, device, dedup key) of first copy `s`, the number the origin gave
   * it; when every node the copy reached says so, no ack can come.
   */
  | { k: 'absent'; s: number; keys: [string, string, string][] }
  /**
   * On a node's own topic: the recipient device acked this entry of the
   * node's writer on another node. `delivered` names the message when its
   * sender is to get a `status_update` `delivered`: the node that holds the
   * entry stores it, where the sender most likely is (see DeliveredReceipt).
   */
  | { k: 'ack'; user: string; device: string; key: string; delivered?: DeliveredReceipt }
  /** An ephemeral frame for the topic user's devices (or one of them, or all but one). */
  | { k: 'push'; frame: string; device?: string | undefined; except?: string | undefined; call?: CallSignal | undefined }
  /** The device connected elsewhere at `at`: an older socket for it closes with 4409. */
  | { k: 'kick'; device: string; at: number; node: string }
  /** An operator's kick: the topic user's device (every device when none is named) closes with 4410 on whichever node holds it. */
  | { k: 'disconnect'; device?: string | undefined }
  /** The device's approval status changed; the node holding it tells it (frame) and acts. */
  | { k: 'device'; device: string; status: DeviceStatus; frame?: string | undefined; reason?: string | undefined }
  /** BROADCAST: a user's device set changed; drop cached copies. */
  | { k: 'devices_changed'; user: string };
