import { clientFrameSchema, clientFrameTypes, type ClientFrame } from './client-frames.ts';
import { errorCodes, type ErrorCode } from './error-codes.ts';
import { fastDeliveryAck, fastSend, isObj } from './fast-frames.ts';
import { ID_MAX } from './fields.ts';

export type DecodeResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: ErrorCode; message: string; id?: string };

/** Deepest nesting a valid frame has is 4 (frame, payload, messages, entry); anything past 8 is garbage. */
export const MAX_JSON_DEPTH = 8;

/**
 * Nesting depth of a JSON text, found by a linear scan that skips strings.
 * Run before JSON.parse so a hostile frame of a million brackets costs one
 * pass over the bytes and no allocation.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
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
