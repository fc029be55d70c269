import { describe, expect, it } from 'vitest';
import { nodeTopic, type BusMessage } from '../../src/bus/bus.ts';
import { MemoryBroker, MemoryBus } from '../../src/bus/memory-bus.ts';
import { AckRouter } from '../../src/delivery/ack-router.ts';
import type { GroupCommitWriter } from '../../src/delivery/group-commit.ts';
import { committedEntry, newEntry, remoteEntry, type QueueEntry } from '../../src/delivery/queue-entry.ts';

/**
 * What the ack router remembers: entries acked here that another node may
 * publish again (its copies, rows read from the database), and nothing of
 * this node's own entries acked before their commit. The writer is a
 * stand-in that records what it was handed; the bus is the in-process one.
 */
describe('ack router', () => {
  const fields = (id: string) => ({
    recipientUser: 'bob',
    recipientDevice: 'b1',
    dedupKey: `deliver|alice|a1|${id}`,
    messageId: id,
    kind: 'deliver' as const,
    senderUser: 'alice',
    senderDevice: 'a1',
    frame: '{}',
    createdAt: new Date(),
  });
  const setup = (recentMax?: number) => {
    const broker = new MemoryBroker();
    const writerAcks: string[] = [];
    const writer = { ack: (e: QueueEntry) => writerAcks.push(e.dedupKey) } as unknown as GroupCommitWriter;
    const acks = new AckRouter(writer, new MemoryBus('b', broker), recentMax);
    const atOrigin: BusMessage[] = [];
    const origin = new MemoryBus('a', broker);
    origin.subscribe(nodeTopic('a'));
    origin.onMessage((_topic, msg) => atOrigin.push(msg));
    return { acks, writerAcks, atOrigin };
  };
  const keyOf = (id: string) => ({ recipientUser: 'bob', recipientDevice: 'b1', dedupKey: `deliver|alice|a1|${id}` });

  it("remembers another node's entry acked here, and sends the ack to that node", async () => {
    const { acks, writerAcks, atOrigin } = setup();
    const copy = remoteEntry(fields('m1'), 'a');
    acks.ack(copy);
    expect(copy.state).toBe('acked');
    expect(acks.ackedHere(keyOf('m1'))).toBe(true);
    expect(acks.ackedHere(keyOf('m2'))).toBe(false);
    expect(acks.ackedHere({ ...keyOf('m1'), recipientDevice: 'b2' })).toBe(false);
    await new Promise((r) => setTimeout(r, 10));
    // The sender's receipt goes with the ack, to be stored on the node that holds the entry.
    expect(atOrigin).toEqual([{ k: 'ack', user: 'bob', device: 'b1', key: 'deliver|alice|a1|m1', delivered: { sender: 'alice', senderDevice: 'a1', messageId: 'm1' } }]);
    expect(writerAcks).toEqual([]);
  });

  it('sends no receipt with the ack of an entry that earns none: a status_update, or a message between devices of one user', async () => {
    const { acks, atOrigin } = setup();
    acks.ack(remoteEntry({ ...fields('s1'), kind: 'status_update', dedupKey: 'status_update|delivered|carol|c1|b1|s1' }, 'a'));
    acks.ack(remoteEntry({ ...fields('m2'), senderUser: 'bob', senderDevice: 'b2', dedupKey: 'deliver|bob|b2|m2' }, 'a'));
    await new Promise((r) => setTimeout(r, 10));
    expect(atOrigin).toHaveLength(2);
    expect(atOrigin.every((m) => m.k === 'ack' && m.delivered === undefined)).toBe(true);
  });

  it('remembers a committed entry of its own (its row may be read again), not one acked before its commit', () => {
    const { acks, writerAcks } = setup();
    acks.ack(committedEntry(fields('row')));
    acks.ack(newEntry(fields('queued')));
    expect(acks.ackedHere(keyOf('row'))).toBe(true);
    expect(acks.ackedHere(keyOf('queued'))).toBe(false);
    expect(writerAcks).toEqual(['deliver|alice|a1|row', 'deliver|alice|a1|queued']);
  });

  it('remembers the latest acks only', () => {
    const { acks } = setup(100);
    for (let i = 0; i < 250; i++) acks.ack(remoteEntry(fields(`m${i}`), 'a'));
    expect(acks.ackedHere(keyOf('m149'))).toBe(false);
    for (let i = 150; i < 250; i++) expect(acks.ackedHere(keyOf(`m${i}`))).toBe(true);
  });

  it('remembers as many acks when every id is a UUID (keys of about 200 characters)', () => {
    const { acks } = setup(100);
    const uuid = (n: number) => `${String(n).padStart(8, '0')}-7425-40de-944b-e07fc1f90ae7`;
    const long = (i: number) => ({ ...fields(uuid(i)), recipientUser: uuid(1), recipientDevice: uuid(2), dedupKey: `deliver|${uuid(3)}|${uuid(4)}|${uuid(i)}` });
    for (let i = 0; i < 100; i++) acks.ack(remoteEntry(long(i), 'a'));
    for (let i = 0; i < 100; i++) expect(acks.ackedHere(long(i))).toBe(true);
  });
});
