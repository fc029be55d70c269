import { nodeTopic, type Bus, type BusMessage } from '../bus/bus.ts';
import { KeyRing } from '../util/key-ring.ts';
import type { GroupCommitWriter } from './group-commit.ts';
import { advance } from './entry-state.ts';
import { deliveredReceiptOf, deviceKey, type QueueEntry } from './queue-entry.ts';
import type { EntryKey } from './queue-store.ts';

/**
 * Takes the acks of recipient devices connected here and hands each to the
 * writer that holds its entry.
 *
 * An entry stored on this node goes to this node's writer. An entry that
 * another node stored (its copy reached us through the bus, `origin` set)
 * is acked on that node's topic: its writer cancels the insert if the ack
 * beats the commit, as it does for its own devices, or deletes the row.
 * So a message between devices on two nodes costs no write when its
 * recipient acks within the write delay, exactly as on one node.
 *
 * The ack of another node's entry also carries the receipt its sender is
 * owed (`delivered`): that node stores the `status_update` for the
 * sender's devices (cluster-events.ts), not this one. The sender is most
 * likely connected there, so the receipt then crosses no node, and its
 * ack comes back to the writer that holds it; stored here, it would cross
 * the bus to the sender and its ack back again. The receipt of an entry
 * this node holds, or of a row read from the database, is stored here
 * (handleDeliveryAck).
 *
 * A receipt rides on its ack and is lost with it. The entry then stays in
 * its queue as above, is delivered again at the device's next drain and
 * acked again, and that ack, of a row read from the database, stores the
 * receipt where the device is.
 *
 * An ack lost on the bus (Redis down, the origin node gone) leaves a row
 * behind; it is delivered again on the device's next drain (after a bus
 * outage every session drains), acked again, and then deleted here, since
 * rows read from the database are this node's to delete. At least once,
 * as everywhere else.
 */
export class AckRouter {
  /**
   * Entries acked here lately that another node may publish to us again:
   * its copies, and rows read from the database (which may be its entries
   * too). The origin republishes an entry once committed, and a copy that
   * crossed our ack is not delivered twice. This node's own entries acked
   * before their commit never come back, and are not recorded.
   *
   * Kept outside the heap (KeyRing): each ack's key would otherwise live
   * for seconds on a busy node, long enough to be promoted. Its keys hold
   * two ids of the recipient and three or more of the dedup key (about 200
   * characters with UUIDs), hence 256 bytes each.
   */
  private readonly acked: KeyRing;

  constructor(
    private readonly writer: GroupCommitWriter,
    private readonly bus: Bus,
    recentMax = 20_000,
  ) {
    this.acked = new KeyRing(recentMax, 256);
  }

  /** The recipient device acked `entry` on this node. */
  ack(entry: QueueEntry): void {
    if (entry.origin === undefined) {
      if (entry.state === 'committed') this.acked.add(ackedKey(entry.recipientKey, entry.dedupKey));
      return this.writer.ack(entry);
    }
    if (entry.state !== 'remote' || !advance(entry, 'acked')) return;
    this.acked.add(ackedKey(entry.recipientKey, entry.dedupKey));
    const ack: Extract<BusMessage, { k: 'ack' }> = { k: 'ack', user: entry.recipientUser, device: entry.recipientDevice, key: entry.dedupKey };
    const delivered = deliveredReceiptOf(entry);
    if (delivered) ack.delivered = delivered;
    this.bus.publish(nodeTopic(entry.origin), ack);
  }

  /** True when a device here acked this entry lately. */
  ackedHere(key: EntryKey): boolean {
    return this.acked.find(ackedKey(deviceKey(key.recipientUser, key.recipientDevice), key.dedupKey)) >= 0;
  }

  /** Another node's device acked an entry of this node's writer. */
  receive(user: string, device: string, key: string): void {
    this.writer.ackKey({ recipientUser: user, recipientDevice: device, dedupKey: key });
  }
}

/** The `acked` map's key: the recipient's deviceKey (an entry's `recipientKey`) and the dedup key. */
const ackedKey = (recipientKey: string, dedupKey: string): string => `${recipientKey}\u0000${dedupKey}`;
