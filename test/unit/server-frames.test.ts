import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeDeliver, encodeSentAck, encodeStatusUpdate, type DeliverFields } from '../../src/protocol/server-frames.ts';

// Any string: quotes, backslashes, control characters, non-ASCII and lone surrogates included.
const text = fc.string({ unit: 'binary' });

describe('message frame encoders', () => {
  it('write the same text as JSON.stringify of the frame object', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<DeliverFields['type']>('deliver', 'media_key', 'sync_request', 'sync_data', 'sync_ack'),
        text,
        text,
        text,
        text,
        fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean())),
        (type, messageId, senderId, senderDevice, timestamp, payload) => {
          expect(encodeDeliver({ type, messageId, senderId, senderDevice, timestamp, payload })).toBe(
            JSON.stringify({ type, message_id: messageId, sender_id: senderId, sender_device: senderDevice, timestamp, payload }),
          );
        },
      ),
    );
    fc.assert(
      fc.property(text, text, (messageId, timestamp) => {
        expect(encodeSentAck(messageId, timestamp)).toBe(JSON.stringify({ type: 'sent_ack', message_id: messageId, timestamp, payload: { status: 'sent' } }));
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom('delivered' as const, 'read' as const), text, text, text, text, (status, messageId, recipientId, recipientDevice, timestamp) => {
        expect(encodeStatusUpdate(messageId, status, recipientId, recipientDevice, timestamp)).toBe(
          JSON.stringify({ type: 'status_update', message_id: messageId, timestamp, payload: { status, recipient_id: recipientId, recipient_device: recipientDevice } }),
        );
      }),
    );
  });

  it('parse back to the fields they were given', () => {
    const frame = JSON.parse(
      encodeDeliver({
        type: 'deliver',
        messageId: 'm"1\\',
        senderId: 'al\u2028ice',
        senderDevice: 'd\u00e91',
        timestamp: '2026-12-02T00:00:00.000Z',
        payload: { ciphertext: 'AAAA', message_type: 'text' },
      }),
    ) as Record<string, unknown>;
    expect(frame).toEqual({
      type: 'deliver',
      message_id: 'm"1\\',
      sender_id: 'al\u2028ice',
      sender_device: 'd\u00e91',
      timestamp: '2026-12-02T00:00:00.000Z',
      payload: { ciphertext: 'AAAA', message_type: 'text' },
    });
  });
});
