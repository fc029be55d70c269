import { ID_MAX, idPattern } from './fields.ts';

const HEAD = '{"type":"';
const ID_KEY = ',"id":"';
/** Every frame type is lower case and underscores: no escape can hide in one. */
const typePattern = /^[a-z_]+$/;

/**
 * The type and id of a frame that begins `{"type":"…","id":"…"` (the
 * order the SDK and the JSON.stringify of `{type, id, payload}` write),
 * read without parsing or validating anything after the id. An overloaded
 * node refuses a share of stored frames: with this, a refusal costs a few
 * compares instead of a parse and a validation of the whole frame.
 *
 * Undefined for any other frame, spacing or key order, and for an id the
 * protocol would reject; the caller then decodes the frame in full. What
 * it returns is only a claim about the frame: a caller that goes on to
 * decode it must check that the decoded type and id match (JSON allows a
 * key twice, and the last one wins).
 */
export function peekFrame(text: string): { type: string; id: string } | undefined {
  if (!text.startsWith(HEAD)) return undefined;
  const typeEnd = text.indexOf('"', HEAD.length);
  if (typeEnd < 0 || !text.startsWith(ID_KEY, typeEnd + 1)) return undefined;
  const idStart = typeEnd + 1 + ID_KEY.length;
  const idEnd = text.indexOf('"', idStart);
  if (idEnd < 0 || idEnd - idStart > ID_MAX) return undefined;
  const after = text.charCodeAt(idEnd + 1);
  if (after !== 44 /* , */ && after !== 125 /* } */) return undefined;
  const id = text.slice(idStart, idEnd);
  // No backslash can pass the id pattern, so the id read up to the first quote is the whole id.
  if (!idPattern.test(id)) return undefined;
  const type = text.slice(HEAD.length, typeEnd);
  if (!typePattern.test(type)) return undefined;
  return { type, id };
}
