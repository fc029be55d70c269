import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBusBatch, encodeBusBatch, type BusBatch } from '../../src/bus/bus-codec.ts';
import type { BusMessage } from '../../src/bus/bus.ts';
import type { WireEntry } from '../../src/delivery/queue-entry.ts';

// Any well-formed text, ':' and digits included (they delimit fields), and characters outside the BMP.
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const ids = fc.oneof(text, fc.constantFrom('', '12:3', ':', '0:', 'a|b|c', '\u0000'));
const entry: fc.Arbitrary<WireEntry> = fc.record({
  recipientUser: ids,
  recipientDevice: ids,
  dedupKey: ids,
  messageId: ids,
  kind: fc.constantFrom('deliver', 'media_key', 'sync_request', 'sync_data', 'sync_ack', 'status_update', 'device_approval_request'),
  senderUser: ids,
  senderDevice: ids,
  frame: fc.oneof(
    text,
    fc.jsonValue().map((v) => JSON.stringify({ type: 'deliver', payload: v })),
  ),
  createdAt: fc.integer({ min: 0, max: 2 ** 45 }),
});
const entries: fc.Arbitrary<BusMessage> = fc
  .record({ node: ids, entries: fc.array(entry, { maxLength: 4 }), again: fc.boolean(), s: fc.option(fc.nat(), { nil: undefined }) })
  .map(({ node, entries, again, s }) => ({ k: 'entries', node, entries, ...(again ? { again: true as const } : {}), ...(s === undefined ? {} : { s }) }));
const message: fc.Arbitrary<BusMessage> = fc.oneof(
  entries,
  fc.record({ k: fc.constant('ack' as const), user: ids, device: ids, key: ids }),
  fc.record({ k: fc.constant('absent' as const), s: fc.nat(), keys: fc.array(fc.tuple(ids, ids, ids), { maxLength: 3 }) }),
  fc.record({ k: fc.constant('push' as const), frame: text, device: fc.option(ids, { nil: undefined }) }),
  fc.record({ k: fc.constant('kick' as const), device: ids, at: fc.nat(), node: ids }),
  fc.record({ k: fc.constant('disconnect' as const), device: fc.option(ids, { nil: undefined }) }),
  fc.record({ k: fc.constant('devices_changed' as const), user: ids }),
);
const batch: fc.Arbitrary<BusBatch> = fc.record({ n: ids, r: fc.boolean(), m: fc.array(message, { maxLength: 5 }) }).map(({ n, r, m }) => (r ? { n, r: true, m } : { n, m }));

/** What a node receives: the payload as UTF-8 bytes through Redis, decoded back to text. */
const throughRedis = (b: BusBatch): string => Buffer.from(encodeBusBatch(b), 'utf8').toString();
/** A message as JSON would carry it: an optional field left undefined is no field. */
const plain = (b: BusBatch): unknown => JSON.parse(JSON.stringify(b));

describe('bus codec', () => {
  it('gives back every batch as sent, through UTF-8 bytes, whatever characters its ids and frames hold', () => {
    fc.assert(
      fc.property(batch, (b) => {
        expect(decodeBusBatch(throughRedis(b))).toEqual(plain(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('never makes up or alters a message from a cut payload: it throws, or gives the messages before the cut', () => {
    fc.assert(
      fc.property(batch, fc.nat(), (b, cutAt) => {
        const whole = throughRedis(b);
        const cut = whole.slice(0, cutAt % (whole.length + 1));
        let got: BusBatch;
        try {
          got = decodeBusBatch(cut);
        } catch {
          return;
        }
        const sent = plain(b) as BusBatch;
        expect(got.n).toBe(sent.n);
        expect(got.m).toEqual(sent.m.slice(0, got.m.length));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses what it cannot read: JSON of the earlier format, another format, bad lengths and tags', () => {
    for (const bad of ['{"n":"a","m":[]}', '', 'B2' + '1:a0:', 'B1' + 'x:a0:', 'B1' + '1:a0:Q', 'B1' + '1:a0:A1:u1:d', 'B1' + '9:a', 'B1' + '1:a0:E1:n0:0:1:1']) {
      expect(() => decodeBusBatch(bad), bad).toThrow();
    }
  });

  it('writes a deliver entry in fewer bytes than JSON did (its frame is not escaped)', () => {
    const frame = JSON.stringify({ type: 'deliver', message_id: 'm1', sender_id: 'alice', sender_device: 'd1', timestamp: '2026-12-02T20:00:00.000Z', payload: { ciphertext: 'A'.repeat(128) } });
    const e: WireEntry = {
      recipientUser: 'bob',
      recipientDevice: 'd1',
      dedupKey: 'deliver|alice|d1|m1',
      messageId: 'm1',
      kind: 'deliver',
      senderUser: 'alice',
      senderDevice: 'd1',
      frame,
      createdAt: 1_796_000_000_000,
    };
    const b: BusBatch = { n: 'node-1', m: [{ k: 'entries', node: 'node-1', entries: [e], s: 7 }] };
    expect(Buffer.byteLength(encodeBusBatch(b))).toBeLessThan(Buffer.byteLength(JSON.stringify(b)));
  });
});
