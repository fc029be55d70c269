import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientFrameTypes } from '../../src/protocol/client-frames.ts';
import { CloseCode } from '../../src/protocol/close-codes.ts';
import { errorCodes } from '../../src/protocol/error-codes.ts';
import { serverFrameTypes } from '../../src/protocol/server-frames.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { TestClient, type Frame } from '../helpers/ws-client.ts';

/**
 * Random frames through the real decoder and dispatch path of a running
 * relay. Properties: the process never dies, every frame the relay sends
 * back is a known server frame (errors carry a known code), and a socket
 * the relay closes is closed with a code from the close-code table.
 */
const known = new Set<string>(serverFrameTypes);
const closeCodes = new Set<number>(Object.values(CloseCode));
const fieldNames = [
  'to',
  'messages',
  'device_id',
  'ciphertext',
  'message_ids',
  'conversation_id',
  'is_typing',
  'call_id',
  'sdp',
  'user_id',
  'request_id',
  'code',
  'signature',
  'identity_key',
  'device_name',
  'device_type',
  '__proto__',
  'constructor',
];

const structured = fc.record(
  {
    type: fc.oneof(fc.constantFrom(...clientFrameTypes), fc.string()),
    id: fc.oneof(fc.string({ maxLength: 140 }), fc.integer(), fc.constant(null)),
    timestamp: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string(),
    ),
    payload: fc.oneof(fc.dictionary(fc.constantFrom(...fieldNames), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }), fc.jsonValue({ maxDepth: 2 })),
  },
  { requiredKeys: ['type'] },
);
const frames = fc.oneof(
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 4, arbitrary: structured.map((v) => JSON.stringify(v)) },
);

function assertValid(f: Frame): void {
  expect(typeof f.type).toBe('string');
  expect(known.has(f.type)).toBe(true);
  if (f.type === 'error') expect(Object.keys(errorCodes)).toContain(f.payload.error_code);
}

describe('protocol fuzz', () => {
  const fx = useRelay('pglite', {
    RATE_FRAMES_BURST: '100000',
    RATE_FRAMES_PER_SECOND: '100000',
    RATE_MESSAGES_BURST: '100000',
    RATE_MESSAGES_PER_SECOND: '100000',
    RATE_SIGNALS_BURST: '100000',
    RATE_SIGNALS_PER_SECOND: '100000',
  });

  it('answers any frame with valid protocol frames, or closes with a code from the table', async () => {
    const user = uid('fuzz');
    let c = await fx.accounts.online(user, 'f1');
    let closes = 0;
    await fc.assert(
      fc.asyncProperty(frames, async (text) => {
        if (c.closeCode !== undefined) {
          expect(closeCodes.has(c.closeCode)).toBe(true);
          closes++;
          c = await TestClient.connect(fx.relay.url, user, 'f1');
        }
        const before = c.frames.length;
        c.sendRaw(text);
        c.send({ type: 'heartbeat' });
        try {
          await c.next('heartbeat_ack', 3000);
        } catch {
          // Closed by the relay (repeated garbage): the close code is checked on the next run.
          expect(c.closeCode).toBeDefined();
        }
        for (const f of c.frames.slice(before)) assertValid(f);
      }),
      { numRuns: 400 },
    );
    expect(fx.relay.child.exitCode).toBeNull();
    // Repeated garbage must have closed the socket at least once along the way (with a code from the table).
    expect(closes).toBeGreaterThan(0);
    await c.close();
  }, 120_000);
});
