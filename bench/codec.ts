/**
 * `npm run bench:codec`: what decoding costs per frame on the message path,
 * against JSON.parse of the same text (the floor: any decoder parses) and
 * against the full schema (what the hand-written fast path saves), and what
 * encoding the frames out costs against stringifying them as objects, and
 * what a shedding node spends to refuse a send (reading its type and id
 * from its head, against decoding it), and what a batch of entries costs on
 * the Redis bus against JSON, measured in the same run. Prints ns per frame
 * and ratios; a few seconds on one core.
 */
import { isDeepStrictEqual } from 'node:util';
import { decodeBusBatch, encodeBusBatch, type BusBatch } from '../src/bus/bus-codec.ts';
import { clientFrameSchema } from '../src/protocol/client-frames.ts';
import { decodeClientFrame } from '../src/protocol/codec.ts';
import { peekFrame } from '../src/protocol/peek-frame.ts';
import { encodeDeliver, encodeError, encodeSentAck, encodeStatusUpdate } from '../src/protocol/server-frames.ts';

const ciphertext = Buffer.alloc(256, 7).toString('base64');
const frames = {
  send: JSON.stringify({ type: 'send', id: 'm-000123', payload: { to: 'user-00042', messages: [{ device_id: 'd1', ciphertext }] } }),
  delivery_ack: JSON.stringify({ type: 'delivery_ack', payload: { message_ids: ['m-000123'] } }),
};

/** Median ns per call over `rounds` timed rounds, after a warm-up. */
function timePerCall(fn: () => unknown, calls = 200_000, rounds = 7): number {
  for (let i = 0; i < calls; i++) fn();
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    times.push(Number(process.hrtime.bigint() - start) / calls);
  }
  return times.sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
}

console.log('| frame | chars | JSON.parse ns | relay decode ns | schema ns | decode / parse | schema / decode |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, text] of Object.entries(frames)) {
  if (!decodeClientFrame(text).ok) throw new Error(`${name} does not decode`);
  const parse = timePerCall(() => JSON.parse(text));
  const decode = timePerCall(() => decodeClientFrame(text));
  const schema = timePerCall(() => clientFrameSchema.safeParse(JSON.parse(text)));
  console.log(`| ${name} | ${text.length} | ${parse.toFixed(0)} | ${decode.toFixed(0)} | ${schema.toFixed(0)} | ${(decode / parse).toFixed(2)}x | ${(schema / decode).toFixed(2)}x |`);
}

// The three frames the relay writes per message, against JSON.stringify of the same frame as an object
// (what the encoders did before); TextEncoder.encodeInto stands in for the socket's UTF-8 copy, which
// must also flatten a string made by concatenation.
const utf8 = new TextEncoder();
const out = new Uint8Array(4096);
const ts = new Date(0).toISOString();
const encoders: [string, () => string, () => string][] = [
  [
    'deliver',
    () => encodeDeliver({ type: 'deliver', messageId: 'm-000123', senderId: 'user-00041', senderDevice: 'd1', timestamp: ts, payload: { ciphertext } }),
    () => JSON.stringify({ type: 'deliver', message_id: 'm-000123', sender_id: 'user-00041', sender_device: 'd1', timestamp: ts, payload: { ciphertext } }),
  ],
  ['sent_ack', () => encodeSentAck('m-000123', ts), () => JSON.stringify({ type: 'sent_ack', message_id: 'm-000123', timestamp: ts, payload: { status: 'sent' } })],
  [
    'status_update',
    () => encodeStatusUpdate('m-000123', 'delivered', 'user-00042', 'd1', ts),
    () => JSON.stringify({ type: 'status_update', message_id: 'm-000123', timestamp: ts, payload: { status: 'delivered', recipient_id: 'user-00042', recipient_device: 'd1' } }),
  ],
];
console.log('\n| frame out | chars | relay encode + UTF-8 ns | object stringify + UTF-8 ns | relay / object |');
console.log('|---|---|---|---|---|');
for (const [name, relay, object] of encoders) {
  if (relay() !== object()) throw new Error(`${name}: the encoder's text differs from the object's`);
  const ours = timePerCall(() => utf8.encodeInto(relay(), out));
  const theirs = timePerCall(() => utf8.encodeInto(object(), out));
  console.log(`| ${name} | ${relay().length} | ${ours.toFixed(0)} | ${theirs.toFixed(0)} | ${(ours / theirs).toFixed(2)}x |`);
}

// A refusal under load shedding: the frame's id read from its head (peek-frame.ts), against the full
// decode the refusal took before; both then build the same overloaded answer.
const refuse = (id: string | undefined) => encodeError('overloaded', { id, timestamp: ts, extra: { retry_after: 1 } });
const byHead = () => refuse(peekFrame(frames.send)?.id);
const byDecode = () => {
  const d = decodeClientFrame(frames.send);
  return refuse(d.ok ? d.frame.id : undefined);
};
if (byHead() !== byDecode()) throw new Error('the two refusals differ');
const head = timePerCall(byHead);
const full = timePerCall(byDecode);
console.log('\n| refusing a send while shedding | ns | of decoding it |');
console.log('|---|---|---|');
console.log(`| by its head, then the answer | ${head.toFixed(0)} | ${(head / full).toFixed(2)}x |`);
console.log(`| decoded, then the answer | ${full.toFixed(0)} | 1.00x |`);

// A turn's publish to one recipient user on the bus: ten deliver entries, encoded on one node and decoded
// on the other from the UTF-8 Redis carries, against JSON.stringify and JSON.parse of the same batch (the
// bus's format before). Per entry.
const busBatch: BusBatch = {
  n: 'node-a',
  m: [
    {
      k: 'entries',
      node: 'node-a',
      s: 41,
      entries: Array.from({ length: 10 }, (_, i) => ({
        recipientUser: 'user-00042',
        recipientDevice: 'd1',
        dedupKey: `deliver|user-00041|d1|m-${i}`,
        messageId: `m-${i}`,
        kind: 'deliver' as const,
        senderUser: 'user-00041',
        senderDevice: 'd1',
        frame: encodeDeliver({ type: 'deliver', messageId: `m-${i}`, senderId: 'user-00041', senderDevice: 'd1', timestamp: ts, payload: { ciphertext } }),
        createdAt: 1_796_000_000_000 + i,
      })),
    },
  ],
};
const viaCodec = () => decodeBusBatch(Buffer.from(encodeBusBatch(busBatch)).toString());
const viaJson = () => JSON.parse(Buffer.from(JSON.stringify(busBatch)).toString()) as BusBatch;
if (!isDeepStrictEqual(viaCodec(), viaJson())) throw new Error('the bus codec and JSON disagree');
const codecNs = timePerCall(viaCodec, 20_000) / 10;
const jsonNs = timePerCall(viaJson, 20_000) / 10;
console.log('\n| bus entry, encoded and decoded (batch of 10) | bytes | ns | of JSON |');
console.log('|---|---|---|---|');
console.log(`| bus codec | ${(Buffer.byteLength(encodeBusBatch(busBatch)) / 10).toFixed(0)} | ${codecNs.toFixed(0)} | ${(codecNs / jsonNs).toFixed(2)}x |`);
console.log(`| JSON | ${(Buffer.byteLength(JSON.stringify(busBatch)) / 10).toFixed(0)} | ${jsonNs.toFixed(0)} | 1.00x |`);
