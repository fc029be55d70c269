import { clientFrameSchema, clientFrameTypes, type ClientFrame } from './client-frames.ts';
import { errorCodes, type ErrorCode } from './error-codes.ts';
import { fastDeliveryAck, fastSend, isObj } from './fast-frames.ts';
import { ID_MAX } from './fields.ts';

export type DecodeResult = { ok: true; frame: ClientFrame } | { ok: false; code: ErrorCode; message: string; id?: string };

/** Deepest nesting a valid frame has is 4 (frame, payload, messages, entry); anything past 8 is garbage. */
export const MAX_JSON_DEPTH = 8;

/**
 * Nesting depth of a JSON text past `max`, found by a linear scan that skips
 * strings. Run before JSON.parse so a hostile frame of nested brackets costs
 * one pass over the bytes and no allocation (V8 takes about 24 ms to parse a
 * 64 KiB frame of them). Strings are skipped with indexOf, which matters
 * because most of a message frame is its ciphertext string: a character
 * loop over it cost more than JSON.parse itself.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const end = closingQuote(text, i);
      // Unterminated: JSON.parse rejects it, after no more nesting than counted so far.
      if (end < 0) return false;
      i = end;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/**
 * Index of the quote that closes the string opened at `open`: the next one
 * not escaped by an odd run of backslashes. Each backslash run is walked
 * once, so the whole scan stays linear.
 */
function closingQuote(text: string, open: number): number {
  let j = open;
  for (;;) {
    j = text.indexOf('"', j + 1);
    if (j < 0) return -1;
    let backslashes = 0;
    for (let k = j - 1; k > open && text.charCodeAt(k) === 92; k--) backslashes++;
    if ((backslashes & 1) === 0) return j;
  }
}

/** Turns one text frame into a typed client frame or the error to answer with. Never throws. */
export function decodeClientFrame(text: string): DecodeResult {
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) return { ok: false, code: 'invalid_frame', message: 'JSON nested too deeply' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: 'invalid_frame', message: errorCodes.invalid_frame.text };
  }
  if (!isObj(raw)) return { ok: false, code: 'invalid_frame', message: errorCodes.invalid_frame.text };
  const obj = raw;
  const id = typeof obj['id'] === 'string' && obj['id'].length <= ID_MAX ? obj['id'] : undefined;
  const type = obj['type'];
  if (typeof type !== 'string' || !clientFrameTypes.has(type)) {
    return { ok: false, code: 'unknown_type', message: `unknown frame type`, ...(id ? { id } : {}) };
  }
  // The two frames of every message's path first, by hand; anything unusual falls through to the schema.
  const fast = type === 'delivery_ack' ? fastDeliveryAck(obj) : type === 'send' ? fastSend(obj) : undefined;
  if (fast) return { ok: true, frame: fast };
  const parsed = clientFrameSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first ? `${first.path.join('.')}: ${first.message}` : 'invalid';
    return { ok: false, code: 'invalid_message', message: where.slice(0, 200), ...(id ? { id } : {}) };
  }
  return { ok: true, frame: parsed.data };
}
