import { z } from 'zod';

/**
 * Field schemas shared by every frame. Limits here bound what one frame can
 * make the relay hold: ids are short printable tokens, ciphertext is base64
 * with a length cap, lists are short. The patterns and bounds are exported
 * for the hand-written fast path (fast-frames.ts), which must accept
 * exactly what these schemas accept.
 */

export const ID_MAX = 128;
export const idPattern = /^[A-Za-z0-9._:@+=-]+$/;
/** User, device, message, call and conversation ids: printable, no spaces, at most 128 characters. */
export const idField = z.string().min(1).max(ID_MAX).regex(idPattern, 'invalid id');

const base64Chars = /^[A-Za-z0-9+/]*={0,2}$/;
/**
 * Standard base64 (RFC 4648 section 4) with padding; the relay never
 * decodes it. Whole 4-character groups with '=' only at the end is the same
 * rule as a pattern of groups, and about twice as fast on a ciphertext
 * (this runs for every message).
 */
export const isBase64 = (s: string): boolean => s.length % 4 === 0 && base64Chars.test(s);
export const CIPHERTEXT_MIN = 4;
export const CIPHERTEXT_MAX = 60 * 1024;
export const ciphertextField = z.string().min(CIPHERTEXT_MIN).max(CIPHERTEXT_MAX).refine(isBase64, 'ciphertext must be base64');

/** A message id list as sent in acks and receipts. */
export const MESSAGE_IDS_MAX = 500;
export const messageIdList = z.array(idField).min(1).max(MESSAGE_IDS_MAX);

/** Short free-form labels the relay passes through (message type, algorithm, call type). */
export const LABEL_MAX = 64;
export const labelPattern = /^[A-Za-z0-9._:/+-]+$/;
export const labelField = z.string().min(1).max(LABEL_MAX).regex(labelPattern, 'invalid label');

/** The most recipient devices one send may address; a user has far fewer. */
export const MAX_DEVICES_PER_SEND = 64;
/** The schema's bound on a group send's recipients; MAX_GROUP_RECIPIENTS (at most this) is the configured one. */
export const GROUP_RECIPIENTS_HARD_MAX = 1000;

export const isoTimestamp = z.iso.datetime({ offset: true });
