import type { DeliveredReceipt } from '../bus/bus.ts';
import type { storedFrameTypes } from '../protocol/server-frame-shapes.ts';

/**
 * A frame on its way to one recipient device. The same object is shared by
 * the group-commit writer (which makes it durable) and the recipient's
 * session (which delivers it and takes its ack), so an ack that beats the
 * commit can cancel the write. Its states and the moves between them:
 * entry-state.ts.
 */
export type EntryState = 'queued' | 'flushing' | 'committed' | 'acked' | 'failed' | 'remote';

/** Frame kinds that are stored until the recipient device acks them: the protocol's list of stored frames. */
export type StoredKind = (typeof storedFrameTypes)[number];

/**
 * What an entry is, the one list of its fields: what the queue table keeps
 * (its columns are named from these, postgres-queue-store.ts), what the bus
 * carries (WireEntry, with the time as a number) and what a session sends
 * (`frame`). Everything else on a QueueEntry is this node's bookkeeping.
 */
export interface EntryFields {
  readonly recipientUser: string;
  readonly recipientDevice: string;
  /** Unique within the recipient device's queue; a second entry with the same key is a duplicate. */
  readonly dedupKey: string;
  readonly messageId: string;
  readonly kind: StoredKind;
  readonly senderUser: string;
  readonly senderDevice: string;
  /** The exact text the device receives. */
  readonly frame: string;
  readonly createdAt: Date;
}

/** An entry as it crosses the bus to the node that holds its device: its fields, with the time in ms since the epoch. */
export type WireEntry = { -readonly [K in keyof EntryFields]: K extends 'createdAt' ? number : EntryFields[K] };

export interface QueueEntry extends EntryFields {
  /** deviceKey(recipientUser, recipientDevice), made once: the writer's indexes key on it. */
  readonly recipientKey: string;
  /** The node whose writer holds this entry, when that is not this node: its ack is sent back there. */
  readonly origin: string | undefined;
  /**
   * Another node's entry whose copy was published at its commit (the
   * entry is in the database), rather than the first copy published before
   * it. False for this node's own entries, whose `state` says as much.
   */
  readonly storedCopy: boolean;
  state: EntryState;
  /** Called once: when the entry is durable or acked by its recipient, whichever comes first (true), or when its batch failed before either (false). */
  onSettled: ((ok: boolean) => void) | undefined;
}

/**
 * Builds the entry field by field rather than by spreading `fields`, so
 * that every entry has the same shape from the start (this runs for every
 * message and receipt).
 */
function makeEntry(f: EntryFields, state: EntryState, onSettled: ((ok: boolean) => void) | undefined, origin?: string, storedCopy = false): QueueEntry {
  return {
    recipientUser: f.recipientUser,
    recipientDevice: f.recipientDevice,
    recipientKey: deviceKey(f.recipientUser, f.recipientDevice),
    dedupKey: f.dedupKey,
    messageId: f.messageId,
    kind: f.kind,
    senderUser: f.senderUser,
    senderDevice: f.senderDevice,
    frame: f.frame,
    createdAt: f.createdAt,
    origin,
    storedCopy,
    state,
    onSettled,
  };
}

export function newEntry(fields: EntryFields, onSettled?: (ok: boolean) => void): QueueEntry {
  return makeEntry(fields, 'queued', onSettled);
}

/** Entries already in the database start life committed. */
export function committedEntry(fields: EntryFields): QueueEntry {
  return makeEntry(fields, 'committed', undefined);
}

/** A copy of an entry that node `origin` holds, published to this node for a device connected here; `stored` for the copy published at its commit. */
export function remoteEntry(fields: EntryFields, origin: string, stored = false): QueueEntry {
  return makeEntry(fields, 'remote', undefined, origin, stored);
}

/** The entry's fields for the bus, field by field (only these cross; a spread would carry the bookkeeping too). */
export function toWire(e: EntryFields): WireEntry {
  return {
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
}

/** A copy of an entry from the bus, as remoteEntry makes it. */
export const fromWire = (w: WireEntry, origin: string, stored: boolean): QueueEntry => remoteEntry({ ...w, createdAt: new Date(w.createdAt) }, origin, stored);

export function settle(entry: QueueEntry, ok: boolean): void {
  const cb = entry.onSettled;
  entry.onSettled = undefined;
  cb?.(ok);
}

export const deviceKey = (user: string, device: string): string => `${user}\u0000${device}`;

/**
 * The receipt an ack of this entry owes its sender: a message (`deliver`,
 * `media_key`) from another user earns a `status_update` `delivered` for
 * the sender's devices; receipts, sync frames and a user's messages to its
 * own devices earn none.
 */
export function deliveredReceiptOf(e: QueueEntry): DeliveredReceipt | undefined {
  if ((e.kind !== 'deliver' && e.kind !== 'media_key') || e.senderUser === e.recipientUser) return undefined;
  return { sender: e.senderUser, senderDevice: e.senderDevice, messageId: e.messageId };
}

/**
 * Dedup keys are stored, so they join their parts with '|', which ids may
 * not contain (see idField): a message is unique per sending device, a
 * receipt per reporting device and status.
 */
export const dedupKey = (...parts: string[]): string => parts.join('|');

export const messageDedupKey = (kind: StoredKind, senderUser: string, senderDevice: string, messageId: string): string => dedupKey(kind, senderUser, senderDevice, messageId);
