import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientFrameSchema } from '../../src/protocol/client-frames.ts';
import { fastDeliveryAck, fastSend } from '../../src/protocol/fast-frames.ts';

/**
 * The fast path must never accept what the schema rejects, and must return
 * what the schema returns. Inputs are built near the valid shape, with each
 * part sometimes wrong, so both sides of every check are exercised.
 */

const validId = fc.stringMatching(/^[A-Za-z0-9._:@+=-]{1,20}$/);
const anyValue = fc.oneof(fc.constant(null), fc.integer(), fc.boolean(), fc.string({ maxLength: 10 }), fc.constant([]), fc.constant({}));
const idish = fc.oneof(
  { weight: 20, arbitrary: validId },
  { weight: 1, arbitrary: fc.string({ maxLength: 140 }) },
  { weight: 1, arbitrary: fc.constant('x'.repeat(129)) },
  { weight: 1, arbitrary: anyValue },
);
const base64 = fc.uint8Array({ minLength: 3, maxLength: 60 }).map((b) => Buffer.from(b).toString('base64'));
const ciphertextish = fc.oneof(
  { weight: 20, arbitrary: base64 },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constant('QUJD') },
  { weight: 1, arbitrary: fc.constant('QUI') },
  { weight: 1, arbitrary: anyValue },
);
const labelish = fc.oneof({ weight: 10, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:/+-]{1,10}$/) }, { weight: 1, arbitrary: fc.string({ maxLength: 70 }) }, { weight: 1, arbitrary: anyValue });
/** Now and then an extra key, which the strict schema rejects. */
const extra = fc.oneof({ weight: 10, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.record({ extra: anyValue }) });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });

const withoutUndefined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const deliveryAck = fc
  .record({
    id: maybe(idish),
    // Now and then a timestamp, which the fast path leaves to the schema.
    timestamp: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant('2026-01-01T00:00:00Z') }),
    ids: fc.oneof({ weight: 10, arbitrary: fc.array(idish, { minLength: 1, maxLength: 5 }) }, { weight: 1, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: anyValue }),
    extraTop: extra,
    extraPayload: extra,
  })
  .map((r) => withoutUndefined({ type: 'delivery_ack', id: r.id, timestamp: r.timestamp, payload: { message_ids: r.ids, ...r.extraPayload }, ...r.extraTop }));

const send = fc
  .record({
    id: fc.oneof({ weight: 5, arbitrary: idish }, { weight: 1, arbitrary: fc.constant(undefined) }),
    to: idish,
    messages: fc.oneof(
      {
        weight: 10,
        arbitrary: fc.array(
          fc.record({ device_id: idish, ciphertext: ciphertextish, extra }).map((m) => withoutUndefined({ device_id: m.device_id, ciphertext: m.ciphertext, ...m.extra })),
          { minLength: 1, maxLength: 4 },
        ),
      },
      { weight: 1, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: anyValue },
    ),
    message_type: maybe(labelish),
    group_id: maybe(idish),
    media_id: maybe(idish),
    extraTop: extra,
    extraPayload: extra,
  })
  .map((r) =>
    withoutUndefined({
      type: 'send',
      id: r.id,
      payload: withoutUndefined({ to: r.to, messages: r.messages, message_type: r.message_type, group_id: r.group_id, media_id: r.media_id, ...r.extraPayload }),
      ...r.extraTop,
    }),
  );

describe('fast frame checks', () => {
  it.each([
    ['delivery_ack', deliveryAck, fastDeliveryAck],
    ['send', send, fastSend],
  ] as const)('%s: accepts only what the schema accepts, returns what it returns, and takes most valid frames', (_name, arb, fast) => {
    let acceptedByBoth = 0;
    let acceptedBySchema = 0;
    fc.assert(
      fc.property(arb, (frame) => {
        // Through JSON, as frames arrive.
        const o = JSON.parse(JSON.stringify(frame)) as Record<string, unknown>;
        const f = fast(o);
        const schema = clientFrameSchema.safeParse(o);
        if (schema.success) acceptedBySchema++;
        if (f === undefined) return;
        expect(schema.success).toBe(true);
        expect(f).toEqual(schema.data);
        acceptedByBoth++;
      }),
      { numRuns: 3000 },
    );
    // The generators make plenty of valid frames, and the fast path takes those without a timestamp.
    expect(acceptedBySchema).toBeGreaterThan(100);
    expect(acceptedByBoth).toBeGreaterThan(acceptedBySchema * 0.5);
  });
});
