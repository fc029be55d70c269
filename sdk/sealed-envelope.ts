import sodium from 'libsodium-wrappers';
import { decodeBase64, encodeBase64 } from '../src/protocol/base64.ts';
import type { DeviceIdentity } from './device-identity.ts';

/**
 * One message sealed for one recipient device: the sender signs what it
 * says (who from, who to, which message id, the body) with its Ed25519
 * identity, and seals signature plus content in a libsodium sealed box for
 * the recipient's X25519 key (derived from the recipient's Ed25519 identity
 * key). The relay sees only the box.
 *
 * What this gives: confidentiality against the relay and the network,
 * sender authenticity (the signature), and binding to the intended
 * recipient, message id and group (a recipient cannot pass a message on
 * as if it had been written to someone else, and the relay cannot replay
 * it under another id or show a direct message as a group's, or the
 * reverse).
 * What it does not give: forward secrecy or recovery after a key
 * compromise (a stolen identity key opens every past box sealed for it),
 * deniability, or hiding metadata (the relay still sees who talks to whom
 * and when). Real apps plug in a ratchet (the Signal protocol) here.
 */
export interface SealedContent {
  v: 1;
  from_user: string;
  from_device: string;
  to_user: string;
  to_device: string;
  message_id: string;
  /** Set for a group message: which group, so the relay cannot move it to another. */
  group_id?: string;
  body: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Seals `content` for a recipient device whose Ed25519 public key is `recipientKey`; standard base64. */
export function seal(content: SealedContent, sender: DeviceIdentity, recipientKey: Uint8Array): string {
  const inner = enc.encode(JSON.stringify(content));
  const signature = sodium.crypto_sign_detached(inner, sender.secretKey);
  const plain = new Uint8Array(signature.length + inner.length);
  plain.set(signature, 0);
  plain.set(inner, signature.length);
  return encodeBase64(sodium.crypto_box_seal(plain, sodium.crypto_sign_ed25519_pk_to_curve25519(recipientKey)));
}

export type OpenResult = { ok: true; content: SealedContent } | { ok: false; reason: 'not_for_us' | 'malformed' | 'bad_signature' | 'wrong_sender' | 'wrong_recipient' | 'wrong_id' | 'wrong_group' };

/**
 * Opens a box sealed for `me`, and checks it against what the relay claims
 * (`sender_id`, `sender_device`, `message_id` of the frame) and the sender
 * device's identity key, which the caller takes from a verified device list.
 */
export function open(
  ciphertext: string,
  me: { userId: string; deviceId: string; identity: DeviceIdentity },
  claimed: { senderId: string; senderDevice: string; messageId: string; groupId?: string | undefined },
  senderKey: Uint8Array,
): OpenResult {
  const box = decodeBase64(ciphertext);
  if (!box) return { ok: false, reason: 'malformed' };
  let plain: Uint8Array;
  try {
    plain = sodium.crypto_box_seal_open(box, sodium.crypto_sign_ed25519_pk_to_curve25519(me.identity.publicKey), sodium.crypto_sign_ed25519_sk_to_curve25519(me.identity.secretKey));
  } catch {
    return { ok: false, reason: 'not_for_us' };
  }
  if (plain.length <= sodium.crypto_sign_BYTES) return { ok: false, reason: 'malformed' };
  const signature = plain.subarray(0, sodium.crypto_sign_BYTES);
  const inner = plain.subarray(sodium.crypto_sign_BYTES);
  if (!sodium.crypto_sign_verify_detached(signature, inner, senderKey)) return { ok: false, reason: 'bad_signature' };
  let content: SealedContent;
  try {
    content = JSON.parse(dec.decode(inner)) as SealedContent;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (content.v !== 1 || typeof content.body !== 'string') return { ok: false, reason: 'malformed' };
  if (content.from_user !== claimed.senderId || content.from_device !== claimed.senderDevice) return { ok: false, reason: 'wrong_sender' };
  if (content.to_user !== me.userId || content.to_device !== me.deviceId) return { ok: false, reason: 'wrong_recipient' };
  if (content.message_id !== claimed.messageId) return { ok: false, reason: 'wrong_id' };
  if (content.group_id !== claimed.groupId) return { ok: false, reason: 'wrong_group' };
  return { ok: true, content };
}
