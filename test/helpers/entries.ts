import { newEntry, type QueueEntry } from '../../src/delivery/queue-entry.ts';

let n = 0;

/**
 * A new `deliver` entry for a recipient device, from sender s/sd, with a
 * fresh id (`m0`, `m1`, ...) as message id and, unless given, dedup key;
 * the frame names the id unless given.
 */
export function testEntry(user: string, device: string, opts: { key?: string; createdAt?: Date; frame?: string; onSettled?: (ok: boolean) => void } = {}): QueueEntry {
  const id = `m${n++}`;
  return newEntry(
    {
      recipientUser: user,
      recipientDevice: device,
      dedupKey: opts.key ?? id,
      messageId: id,
      kind: 'deliver',
      senderUser: 's',
      senderDevice: 'sd',
      frame: opts.frame ?? `{"id":"${id}"}`,
      createdAt: opts.createdAt ?? new Date(),
    },
    opts.onSettled,
  );
}
