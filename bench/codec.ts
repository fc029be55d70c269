/**
 * `npm run bench:codec`: what decoding costs per frame on the message path,
 * against JSON.parse of the same text (the floor: any decoder parses) and
 * against the full schema (what the hand-written fast path saves), measured
 * in the same run. Prints ns per frame and ratios; a few seconds on one core.
 */
import { clientFrameSchema } from '../src/protocol/client-frames.ts';
import { decodeClientFrame } from '../src/protocol/codec.ts';

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
