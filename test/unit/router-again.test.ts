import { describe, expect, it } from 'vitest';
import type { BusMessage } from '../../src/bus/bus.ts';
import { MemoryBroker, MemoryBus } from '../../src/bus/memory-bus.ts';
import type { LocalDevices } from '../../src/delivery/delivery-target.ts';
import { committedEntry, type QueueEntry } from '../../src/delivery/queue-entry.ts';
import { Router } from '../../src/delivery/router.ts';

/**
 * A committed entry goes to the other nodes again at its commit, before
 * its sender can send anything later, and an entry younger than the write
 * delay once more at that age: one written at once (its first copy reached
 * nobody) must also reach the node about to hold the device that is still
 * subscribing. Two nodes on one in-process broker; the router's clock is
 * the test's.
 */
describe('router: second copies of committed entries', () => {
  const AGAIN_AFTER = 200;
  const nobodyHere: LocalDevices = { find: () => undefined, devicesOf: () => undefined };

  const setup = () => {
    const broker = new MemoryBroker();
    const origin = new MemoryBus('a', broker);
    const other = new MemoryBus('b', broker);
    other.subscribe('bob');
    const heard: { at: number; msg: BusMessage }[] = [];
    other.onMessage((_topic, msg) => heard.push({ at: Date.now(), msg }));
    return { router: new Router(nobodyHere, origin, { ackedHere: () => false, againAfterMs: AGAIN_AFTER }), heard };
  };
  const entry = (id: string, createdAt: number): QueueEntry =>
    committedEntry({
      recipientUser: 'bob',
      recipientDevice: 'b1',
      dedupKey: id,
      messageId: id,
      kind: 'deliver',
      senderUser: 'alice',
      senderDevice: 'a1',
      frame: `{"id":"${id}"}`,
      createdAt: new Date(createdAt),
    });
  const idsOf = (msg: BusMessage) => (msg.k === 'entries' ? msg.entries.map((e) => e.dedupKey) : []);

  it('sends every entry at its commit, and one younger than the delay once more when it is that old', async () => {
    const { router, heard } = setup();
    const made = Date.now();
    router.forwardCommitted([entry('old', made - AGAIN_AFTER), entry('young', made)]);
    await new Promise((r) => setTimeout(r, AGAIN_AFTER / 4));
    expect(heard.map((h) => idsOf(h.msg))).toEqual([['old', 'young']]);
    await new Promise((r) => setTimeout(r, AGAIN_AFTER));
    expect(heard.map((h) => idsOf(h.msg))).toEqual([['old', 'young'], ['young']]);
    expect(heard[1]!.at - made).toBeGreaterThanOrEqual(AGAIN_AFTER - 5);
    expect(heard.every((h) => h.msg.k === 'entries' && h.msg.again === true)).toBe(true);
  });

  it('does not send the held-back copy of an entry acked meanwhile', async () => {
    const { router, heard } = setup();
    const e = entry('acked', Date.now());
    router.forwardCommitted([e]);
    e.state = 'acked';
    await new Promise((r) => setTimeout(r, AGAIN_AFTER * 1.5));
    expect(heard.map((h) => idsOf(h.msg))).toEqual([['acked']]);
  });
});
