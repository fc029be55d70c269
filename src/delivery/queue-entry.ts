import type { DeliveredReceipt } from '../bus/bus.ts';

/**
 * A frame on its way to one recipient device. The same object is shared by
 * the group-commit writer (which makes it durable) and the recipient's
 * session (which delivers it and takes its ack), so an ack that beats the
 * commit can cancel the write. Its states and the moves between them:
 * entry-state.ts.
 */
export type EntryState = 'queued' | 'flushing' | 'committed' | 'acked' | 'failed' | 'remote';

/** Frame kinds that are stored until the recipient device acks them. */
export type StoredKind = 'deliver' | 'media_key' | 'sync_request' | 'sync_data' | 'sync_ack' | 'status_update' | 'device_approval_request';

export interface QueueEntry {
  readonly recipientUser: string;
  readonly recipientDevice: string;
  /** deviceKey(recipientUser, recipientDevice), made once: the writer's indexes key on it. */
  readonly recipientKey: string;
  /** Unique within the recipient device's queue; a second entry with the same key is a duplicate. */
  readonly dedupKey: string;
  readonly messageId: string;
  readonly kind: StoredKind;
  readonly senderUser: string;
  readonly senderDevice: string;
  /** The exact text the device receives. */
  readonly frame: string;
  readonly createdAt: Date;
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

/** What a caller supplies; the rest is made here. */
type EntryFields = Omit<QueueEntry, 'state' | 'onSettled' | 'origin' | 'recipientKey' | 'storedCopy'>;

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
