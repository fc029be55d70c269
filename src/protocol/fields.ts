import { z } from 'zod';

/**
 * Field schemas shared by every frame. Limits here bound what one frame can
 * make the relay hold: ids are short printable tokens, ciphertext is base64
 * with a length cap, lists are short.
 */

/** User, device, message, call and conversation ids: printable, no spaces, at most 128 characters. */
export const idField = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:@+=-]+$/, 'invalid id');

/** Standard base64 (RFC 4648 section 4) with padding; the relay never decodes it. */
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export const ciphertextField = z.string().min(4).max(60 * 1024).regex(base64, 'ciphertext must be base64');

/** A message id list as sent in acks and receipts. */
export const messageIdList = z.array(idField).min(1).max(500);

/** Short free-form labels the relay passes through (message type, algorithm, call type). */
export const labelField = z.string().min(1).max(64).regex(/^[A-Za-z0-9._:/+-]+$/, 'invalid label');

/** The most recipient devices one send may address; a user has far fewer. */
export const MAX_DEVICES_PER_SEND = 64;

export const isoTimestamp = z.iso.datetime({ offset: true });
