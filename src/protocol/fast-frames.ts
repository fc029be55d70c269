import type { FrameOf } from './client-frames.ts';
import { CIPHERTEXT_MAX, CIPHERTEXT_MIN, ID_MAX, LABEL_MAX, MAX_DEVICES_PER_SEND, MESSAGE_IDS_MAX, idPattern, isBase64, labelPattern } from './fields.ts';

/**
 * Hand-written checks for the two frames on every message's path
 * (`delivery_ack`, twice per message, and `send`). They accept only the
 * plain, valid shape, which they return as it was parsed (every key was
 * checked, so there is nothing to strip), and undefined for anything else, including a
 * `timestamp`, which then goes through the schema like every other frame:
 * so the schema still decides every rejection and writes every error
 * message, and a property test holds these to never accept what the schema
 * rejects.
 */

type Obj = Record<string, unknown>;

/** A JSON object (not null, not an array). */
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= ID_MAX && idPattern.test(v);
const isLabel = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= LABEL_MAX && labelPattern.test(v);
const isCiphertext = (v: unknown): v is string => typeof v === 'string' && v.length >= CIPHERTEXT_MIN && v.length <= CIPHERTEXT_MAX && isBase64(v);

/** Every key of `o` is in `allowed` (the schema's objects are strict). */
function onlyKeys(o: Obj, allowed: readonly string[]): boolean {
  for (const k in o) if (!allowed.includes(k)) return false;
  return true;
}

export function fastDeliveryAck(o: Obj): FrameOf<'delivery_ack'> | undefined {
  if (!onlyKeys(o, ['type', 'id', 'payload']) || (o['id'] !== undefined && !isId(o['id']))) return undefined;
  const p = o['payload'];
  if (!isObj(p) || !onlyKeys(p, ['message_ids', 'sender_id']) || (p['sender_id'] !== undefined && !isId(p['sender_id']))) return undefined;
  const ids = p['message_ids'];
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > MESSAGE_IDS_MAX || !ids.every(isId)) return undefined;
  // Checked to the last key: the parsed object is the frame, no copy needed.
  return o as unknown as FrameOf<'delivery_ack'>;
}

const sendKeys = ['to', 'messages', 'message_type', 'group_id', 'media_id'];

export function fastSend(o: Obj): FrameOf<'send'> | undefined {
  if (!onlyKeys(o, ['type', 'id', 'payload']) || !isId(o['id'])) return undefined;
  const p = o['payload'];
  if (!isObj(p) || !onlyKeys(p, sendKeys) || !isId(p['to'])) return undefined;
  const ms = p['messages'];
  if (!Array.isArray(ms) || ms.length < 1 || ms.length > MAX_DEVICES_PER_SEND) return undefined;
  for (const m of ms) {
    if (!isObj(m) || !onlyKeys(m, ['device_id', 'ciphertext']) || !isId(m['device_id']) || !isCiphertext(m['ciphertext'])) return undefined;
  }
  for (const k of ['group_id', 'media_id'] as const) if (p[k] !== undefined && !isId(p[k])) return undefined;
  if (p['message_type'] !== undefined && !isLabel(p['message_type'])) return undefined;
  return o as unknown as FrameOf<'send'>;
}
