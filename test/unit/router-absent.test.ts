import { describe, expect, it } from 'vitest';
import { nodeTopic, type Bus, type BusMessage, type Reached } from '../../src/bus/bus.ts';
import { MemoryBroker, MemoryBus } from '../../src/bus/memory-bus.ts';
import type { DeliveryTarget, LocalDevices } from '../../src/delivery/delivery-target.ts';
import { newEntry, type QueueEntry } from '../../src/delivery/queue-entry.ts';
import type { EntryKey } from '../../src/delivery/queue-store.ts';
import { Router } from '../../src/delivery/router.ts';

/**
 * A node that receives a first copy and holds none of an entry's device
 * answers `absent` to the origin, which lets the entry go to its write at
 * once when every node the copy reached said so (a user online on another
 * node with one device, offline with another). Three nodes on one
 * in-process broker, each with a router; the devices connected on each are
 * plain stand-ins that record what they were offered.
 */
describe('router: absent answers to first copies', () => {
  // No device acks here: each router's ackedHere answers no.

  /** Node `a` sends; `holds` says which of bob's devices are connected on nodes b and c. */
  const setup = (holds: { b: string[]; c: string[] }) => {
    const broker = new MemoryBroker();
    const offered: string[] = [];
    const released: string[] = [];
    const unheard = (keys: readonly EntryKey[]) => released.push(...keys.map((k) => `${k.recipientDevice}:${k.dedupKey}`));
    const node = (id: string, devices: string[]) => {
      const bus = new MemoryBus(id, broker);
      const targets = devices.map((deviceId): DeliveryTarget => ({ deviceId, isApproved: true, offer: (e) => offered.push(`${id}:${e.recipientDevice}:${e.dedupKey}`), push: () => true }));
      const local: LocalDevices = { find: (u, d) => (u === 'bob' ? targets.find((t) => t.deviceId === d) : undefined), devicesOf: (u) => (u === 'bob' && targets.length ? targets : undefined) };
      const router = new Router(local, bus, { ackedHere: () => false, ...(id === 'a' ? { unheard } : {}) });
      bus.subscribe(nodeTopic(id));
      if (devices.length) bus.subscribe('bob');
      bus.onMessage((topic, msg) => {
        if (msg.k === 'absent' && topic === nodeTopic(id)) router.absent(msg);
        else router.receive(topic, msg);
      });
      return router;
    };
    const origin = node('a', []);
    node('b', holds.b);
    node('c', holds.c);
    return { origin, offered, released };
  };
  const entry = (device: string, id: string): QueueEntry =>
    newEntry({ recipientUser: 'bob', recipientDevice: device, dedupKey: id, messageId: id, kind: 'deliver', senderUser: 'alice', senderDevice: 'a1', frame: `{"id":"${id}"}`, createdAt: new Date() });
  const settle = () => new Promise((r) => setTimeout(r, 30));

  it('lets go of the entry for a device connected nowhere when the one node reached holds another device of the user', async () => {
    const { origin, offered, released } = setup({ b: ['b1'], c: [] });
    origin.offer([entry('b1', 'm1'), entry('b2', 'm1')]);
    await settle();
    expect(offered).toEqual(['b:b1:m1']);
    expect(released).toEqual(['b2:m1']);
  });

  it('waits while another node the copy reached may still ack: each device is on one of two nodes', async () => {
    const { origin, offered, released } = setup({ b: ['b1'], c: ['b2'] });
    origin.offer([entry('b1', 'm2'), entry('b2', 'm2')]);
    await settle();
    expect(offered.sort()).toEqual(['b:b1:m2', 'c:b2:m2']);
    expect(released).toEqual([]);
  });

  it('lets go once every node the copy reached has answered for the entry', async () => {
    const { origin, offered, released } = setup({ b: ['b1'], c: ['b3'] });
    origin.offer([entry('b1', 'm3'), entry('b2', 'm3')]);
    await settle();
    expect(offered).toEqual(['b:b1:m3']);
    expect(released).toEqual(['b2:m3']);
  });

  it("waits for the count of nodes a copy reached before it counts an answer that came first (the origin read its subscriber's socket before its publisher's)", () => {
    // A stand-in bus that keeps each publish, so the test says when Redis's count comes back.
    const published: { msg: BusMessage; reached: Reached | undefined }[] = [];
    const bus = { nodeId: 'a', hasPeers: true, publish: (_t: string, msg: BusMessage, reached?: Reached) => published.push({ msg, reached }) } as unknown as Bus;
    const released: string[] = [];
    const router = new Router({ find: () => undefined, devicesOf: () => undefined }, bus, { ackedHere: () => false, unheard: (keys) => released.push(...keys.map((k) => k.recipientDevice)) });
    router.offer([entry('b1', 'm5'), entry('b2', 'm5')]);
    const first = published[0]!;
    const s = (first.msg as Extract<BusMessage, { k: 'entries' }>).s!;
    const answer = { k: 'absent' as const, s, keys: [['bob', 'b1', 'm5'] as [string, string, string]] };
    // One node that does not hold b1 answers before the count: nothing is let go yet.
    router.absent(answer);
    expect(released).toEqual([]);
    // The copy reached two nodes: one answer of two for b1, still nothing.
    first.reached!(first.msg, 2);
    expect(released).toEqual([]);
    // The second node holds neither device either: b1 goes; b2, never answered for, waits.
    router.absent(answer);
    expect(released).toEqual(['b1']);
    // A copy whose count came back first is settled by an answer at once, as before.
    router.offer([entry('b1', 'm6')]);
    const second = published[1]!;
    second.reached!(second.msg, 1);
    router.absent({ k: 'absent', s: (second.msg as Extract<BusMessage, { k: 'entries' }>).s!, keys: [['bob', 'b1', 'm6']] });
    expect(released).toEqual(['b1', 'b1']);
  });

  it('still lets go of what reached no node at all', async () => {
    const { origin, released } = setup({ b: [], c: [] });
    origin.offer([entry('b1', 'm4')]);
    await settle();
    expect(released).toEqual(['b1:m4']);
  });
});
