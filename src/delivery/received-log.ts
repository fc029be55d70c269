import { KeyRing } from '../util/key-ring.ts';

/**
 * The messages this node's devices acked lately, by recipient user, sender
 * user and message id: what a `read_receipt` may report. A device can only
 * say it read a message its user received, so receipts for ids it never
 * got, or naming a user who never wrote to it, store nothing.
 *
 * Per node and in memory (a KeyRing: nothing on the JavaScript heap, the
 * latest `capacity` acks kept). A receipt for a message acked on another
 * node, or before this node started, or longer ago than the ring reaches,
 * is not stored: the sender misses a read tick, never a message. Keyed by
 * user rather than device, so that any of the user's devices on this node
 * may report it.
 */
export class ReceivedLog {
  private readonly ring: KeyRing;

  constructor(capacity: number) {
    // Three ids of at most 128 characters and two separators; most keys are far shorter.
    this.ring = new KeyRing(capacity, 160);
  }

  record(recipient: string, sender: string, messageId: string): void {
    this.ring.add(receivedKey(recipient, sender, messageId));
  }

  has(recipient: string, sender: string, messageId: string): boolean {
    return this.ring.find(receivedKey(recipient, sender, messageId)) >= 0;
  }
}

/** Ids never hold NUL (fields.ts), so the joined key is unambiguous. */
const receivedKey = (recipient: string, sender: string, messageId: string): string => `${recipient}\u0000${sender}\u0000${messageId}`;
