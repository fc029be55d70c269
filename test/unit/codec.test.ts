import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeClientFrame, jsonDepthExceeds } from '../../src/protocol/codec.ts';
import { isBase64 } from '../../src/protocol/fields.ts';

const send = (over: Record<string, unknown> = {}, payload: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'send', id: 'm1', payload: { to: 'bob', messages: [{ device_id: 'b1', ciphertext: 'aGk=' }], ...payload }, ...over });

describe('decodeClientFrame', () => {
  it('accepts a well-formed send', () => {
    const r = decodeClientFrame(send());
    expect(r.ok && r.frame.type).toBe('send');
  });

  it.each([
    ['not JSON', 'nope', 'invalid_frame'],
    ['an array', '[1,2]', 'invalid_frame'],
    ['a primitive', '42', 'invalid_frame'],
    ['null', 'null', 'invalid_frame'],
    ['an unknown type', '{"type":"launch","payload":{}}', 'unknown_type'],
    ['a missing type', '{"payload":{}}', 'unknown_type'],
    ['an extra top-level key', send({ extra: 1 }), 'invalid_message'],
    ['an extra payload key', send({}, { sender_id: 'someone-else' }), 'invalid_message'],
    ['a __proto__ key', '{"type":"heartbeat","payload":{},"__proto__":{"x":1}}', 'invalid_message'],
    ['a non-base64 ciphertext', send({}, { messages: [{ device_id: 'b1', ciphertext: 'not base64!' }] }), 'invalid_message'],
    ['a wrong field type', send({}, { to: 42 }), 'invalid_message'],
    ['a send without id', JSON.stringify({ type: 'send', payload: { to: 'b', messages: [{ device_id: 'b1', ciphertext: 'aGk=' }] } }), 'invalid_message'],
    ['an empty device list', send({}, { messages: [] }), 'invalid_message'],
    ['an id with spaces', send({ id: 'a b' }), 'invalid_message'],
    ['deep nesting', `{"type":"heartbeat","payload":${'['.repeat(50)}${']'.repeat(50)}}`, 'invalid_frame'],
  ])('answers %s with %s', (_name, text, code) => {
    const r = decodeClientFrame(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });

  it('echoes the frame id in errors when it has one', () => {
    const r = decodeClientFrame(send({}, { to: 42 }));
    expect(!r.ok && r.id).toBe('m1');
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          const r = decodeClientFrame(text);
          expect(typeof r.ok).toBe('boolean');
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('jsonDepthExceeds', () => {
  it('counts brackets outside strings only', () => {
    expect(jsonDepthExceeds('{"a":"[[[[[[[[[["}', 2)).toBe(false);
    expect(jsonDepthExceeds('{"a":[[1]]}', 2)).toBe(true);
    expect(jsonDepthExceeds('{"a":"\\"[[[[["}', 1)).toBe(false);
    expect(jsonDepthExceeds('{"a":"\\\\"}[[[', 2)).toBe(true);
    expect(jsonDepthExceeds('[[["unterminated', 2)).toBe(true);
  });

  /** The plain character loop the scan must agree with. */
  const reference = (text: string, max: number): boolean => {
    let depth = 0;
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (c === 92) i++;
        else if (c === 34) inString = false;
      } else if (c === 34) inString = true;
      else if (c === 123 || c === 91) {
        if (++depth > max) return true;
      } else if (c === 125 || c === 93) depth--;
    }
    return false;
  };

  it('agrees with a character-by-character scan on any text of brackets, quotes and backslashes', () => {
    const piece = fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ':', ',');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), fc.integer({ min: 0, max: 6 }), (parts, max) => {
        const text = parts.join('');
        expect(jsonDepthExceeds(text, max)).toBe(reference(text, max));
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 0, max: 8 }), (v, max) => {
        const text = JSON.stringify(v);
        expect(jsonDepthExceeds(text, max)).toBe(reference(text, max));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('isBase64', () => {
  /** The rule spelled as whole groups and one padded group at the end. */
  const groups = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
  it('accepts exactly what the group pattern accepts', () => {
    const ch = fc.constantFrom('A', 'z', '0', '+', '/', '=', '-', '_', ' ');
    fc.assert(
      fc.property(fc.array(ch, { maxLength: 16 }), (cs) => {
        const s = cs.join('');
        expect(isBase64(s)).toBe(groups.test(s));
      }),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        expect(isBase64(Buffer.from(b).toString('base64'))).toBe(true);
      }),
    );
  });
});
