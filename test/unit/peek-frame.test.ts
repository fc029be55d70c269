import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { peekFrame } from '../../src/protocol/peek-frame.ts';

const idChars = 'abcXYZ019._:@+=-';
const anId = fc.string({ unit: fc.constantFrom(...idChars), minLength: 1, maxLength: 128 });

describe('peekFrame', () => {
  it('reads the type and id of any frame serialised as {type, id, payload}, exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.constantFrom('send', 'media_key', 'sync_data', 'read_receipt', 'delivery_ack'), anId, fc.jsonValue(), (type, id, payload) => {
        const text = JSON.stringify({ type, id, payload });
        const parsed = JSON.parse(text) as { type: string; id: string };
        expect(peekFrame(text)).toEqual({ type: parsed.type, id: parsed.id });
      }),
    );
  });

  it('never claims a type or id that JSON.parse reads differently, whatever the keys and their order (each key once)', () => {
    const frame = fc
      .record({
        others: fc.array(fc.tuple(fc.string(), fc.jsonValue()), { maxLength: 4 }),
        type: fc.option(fc.oneof(fc.constantFrom('send', 'typing'), fc.string()), { nil: undefined }),
        id: fc.option(fc.oneof(anId, fc.string()), { nil: undefined }),
        at: fc.tuple(fc.nat(), fc.nat()),
      })
      .map(({ others, type, id, at }) => {
        const entries: [string, unknown][] = others.filter(([k]) => k !== 'type' && k !== 'id');
        if (type !== undefined) entries.splice(at[0] % (entries.length + 1), 0, ['type', type]);
        if (id !== undefined) entries.splice(at[1] % (entries.length + 1), 0, ['id', id]);
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
      });
    fc.assert(
      fc.property(frame, (text) => {
        const peeked = peekFrame(text);
        if (peeked) expect(JSON.parse(text)).toMatchObject(peeked);
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves every other layout to the full decode', () => {
    for (const text of [
      '{"id":"m1","type":"send","payload":{}}', // another key order
      '{ "type":"send","id":"m1","payload":{}}', // spacing
      '{"type":"send","payload":{},"id":"m1"}',
      '{"type":"send","id":"m 1","payload":{}}', // an id the protocol rejects
      '{"type":"send","id":"m\\u0031","payload":{}}', // an escape in the id
      `{"type":"send","id":"${'m'.repeat(129)}","payload":{}}`, // too long
      '{"type":"send","id":"","payload":{}}',
      '{"type":"send","id":"m1"x',
      '{"type":"send","id":"m1',
      '{"type":"send"}',
      '[]',
      '',
    ]) {
      expect(peekFrame(text), text).toBeUndefined();
    }
    expect(peekFrame('{"type":"send","id":"m1"}')).toEqual({ type: 'send', id: 'm1' });
  });
});
