import { z } from 'zod';
import { presenceStates } from '../presence/presence.ts';
import { ciphertextField, GROUP_RECIPIENTS_HARD_MAX, idField, isoTimestamp, labelField, MAX_DEVICES_PER_SEND, messageIdList } from './fields.ts';

/**
 * Frames a client may send. Every object is strict: an extra key is an
 * `invalid_message`, so a typo in a client shows up at once instead of being
 * silently ignored.
 */

const envelope = <T extends string, P extends z.ZodType>(type: T, payload: P) => z.strictObject({ type: z.literal(type), id: idField.optional(), timestamp: isoTimestamp.optional(), payload });

/** Frames whose `id` is the message id: it is required, the sender dedupes and acks on it. */
const identified = <T extends string, P extends z.ZodType>(type: T, payload: P) => z.strictObject({ type: z.literal(type), id: idField, timestamp: isoTimestamp.optional(), payload });

const deviceCiphertexts = z
  .array(z.strictObject({ device_id: idField, ciphertext: ciphertextField }))
  .min(1)
  .max(MAX_DEVICES_PER_SEND);

const sendPayload = z.strictObject({
  to: idField,
  messages: deviceCiphertexts,
  message_type: labelField.optional(),
  group_id: idField.optional(),
  media_id: idField.optional(),
});

/** One `send` to several users (a group): each recipient with a ciphertext per device, stored and acked as one message. */
const groupSendPayload = z.strictObject({
  recipients: z
    .array(z.strictObject({ to: idField, messages: deviceCiphertexts }))
    .min(1)
    .max(GROUP_RECIPIENTS_HARD_MAX),
  group_id: idField,
  message_type: labelField.optional(),
  media_id: idField.optional(),
});

const mediaKeyPayload = z.strictObject({
  to: idField,
  messages: deviceCiphertexts,
  media_id: idField,
  algorithm: labelField,
  message_type: labelField.optional(),
});

const syncPayload = z.strictObject({ device_id: idField, ciphertext: ciphertextField.optional() });

const callPayload = z.strictObject({
  to: idField,
  device_id: idField.optional(),
  call_id: idField,
  call_type: labelField.optional(),
  ciphertext: ciphertextField.optional(),
  // SDP and ICE text are passed through untouched; clients that encrypt them use `ciphertext`.
  sdp: z
    .string()
    .max(32 * 1024)
    .optional(),
  candidate: z
    .string()
    .max(4 * 1024)
    .optional(),
  reason: labelField.optional(),
});

const emptyPayload = z.strictObject({}).optional();

const base64url = (bytes: number) => z.string().regex(new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((bytes * 4) / 3)}}={0,2}$`), `base64url of ${bytes} bytes`);

/** How a device asks to be woken while offline (docs/push.md); the JSON of a browser's PushSubscription fits `subscription`. */
const pushRegisterPayload = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('webpush'),
    subscription: z.strictObject({
      endpoint: z.string().min(1).max(2048),
      expirationTime: z.number().nullable().optional(),
      keys: z.strictObject({ p256dh: base64url(65), auth: base64url(16) }),
    }),
  }),
  z.strictObject({ kind: z.literal('webhook'), token: z.string().min(1).max(4096) }),
]);

export const clientFrameSchema = z.discriminatedUnion('type', [
  identified('send', z.union([sendPayload, groupSendPayload])),
  identified('media_key', mediaKeyPayload),
  envelope('delivery_ack', z.strictObject({ message_ids: messageIdList, sender_id: idField.optional() })),
  envelope('read_receipt', z.strictObject({ to: idField, message_ids: messageIdList })),
  identified('sync_request', syncPayload),
  identified('sync_data', syncPayload),
  identified('sync_ack', syncPayload),
  envelope('typing', z.strictObject({ to: idField, conversation_id: idField, is_typing: z.boolean() })),
  envelope('call_offer', callPayload),
  envelope('call_answer', callPayload),
  envelope('call_reject', callPayload),
  envelope('call_end', callPayload),
  envelope('ice_candidate', callPayload),
  envelope('heartbeat', emptyPayload),
  // The keepalive names of clients written against the seed API: `ping` is answered `pong`, a `pong` is taken and ignored.
  envelope('ping', emptyPayload),
  envelope('pong', emptyPayload),
  // A renewed access token for this socket; the size bound is the upgrade's (MAX_TOKEN_BYTES), checked by the handler.
  envelope('token_refresh', z.strictObject({ token: z.string().min(1).max(65_536) })),
  envelope('contact_add', z.strictObject({ user_id: idField })),
  envelope('contact_remove', z.strictObject({ user_id: idField })),
  // This device's state as its contacts see it; a device that sets none is `online`.
  envelope('presence', z.strictObject({ status: z.enum(presenceStates) })),
  // Which mutual contacts are online now, with their devices (answered `online_contacts`).
  envelope('online_contacts', emptyPayload),
  envelope('device_register', z.strictObject({ identity_key: z.string().length(44), device_name: z.string().min(1).max(64), device_type: labelField })),
  envelope('device_approve', z.strictObject({ request_id: idField, code: z.string().regex(/^[0-9]{6}$/, 'code is 6 digits'), signature: z.string().length(88) })),
  envelope('device_deny', z.strictObject({ request_id: idField })),
  envelope('device_revoke', z.strictObject({ device_id: idField })),
  envelope('devices_list', z.strictObject({ user_id: idField })),
  // The primary's signature over its user's whole device list under `version` (docs/device-approval.md).
  envelope('device_list_sign', z.strictObject({ version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), signature: z.string().length(88) })),
  envelope('push_register', pushRegisterPayload),
  envelope('push_unregister', emptyPayload),
]);

/** What a device may send before it is approved: registering, and keeping the socket alive. */
export const openBeforeApproval: ReadonlySet<ClientFrameType> = new Set(['heartbeat', 'ping', 'pong', 'device_register', 'token_refresh']);

export type ClientFrame = z.infer<typeof clientFrameSchema>;
export type ClientFrameType = ClientFrame['type'];
export type FrameOf<T extends ClientFrameType> = Extract<ClientFrame, { type: T }>;

export const clientFrameTypes: ReadonlySet<string> = new Set(clientFrameSchema.options.map((o) => o.shape.type.value));

export const callTypes = ['call_offer', 'call_answer', 'call_reject', 'call_end', 'ice_candidate'] as const;
export type CallFrameType = (typeof callTypes)[number];
