import type { SignedDeviceList } from './device-list-message.ts';
import type { ErrorCode } from './error-codes.ts';

/**
 * The shape of every frame the relay sends, as TypeScript types. The
 * server's encoders are typed against `ServerPayloads`, so a payload that
 * changes on the server fails the type check of the client SDK that reads
 * it. Types, plus one constant list, and no Node API: browsers import it too.
 */

export interface DeviceEntry {
  device_id: string;
  device_name: string | null;
  device_type: string | null;
  identity_key: string | null;
  primary: boolean;
  approved_by: string | null;
  approval_signature: string | null;
  approval_request: string | null;
  approved_at: string | null;
}

export interface CallPayload {
  call_id: string;
  call_type?: string;
  ciphertext?: string;
  sdp?: string;
  candidate?: string;
  reason?: string;
}

/** One live device of a contact; `status` is the state that device set (`online` until it sets another). */
export interface PresenceDevice {
  device_id: string;
  device_type: string | null;
  status: 'online' | 'away' | 'busy';
}

/**
 * A contact's presence. `status` is the user's: `busy` if any device says
 * so, else `online` if any device is active, else `away`, or `offline`;
 * `last_seen` only when offline and known.
 */
export interface ContactPresence {
  user_id: string;
  online: boolean;
  status: 'online' | 'away' | 'busy' | 'offline';
  last_seen?: string;
  devices: PresenceDevice[];
}

/** Payload of each frame built by `encodeFrame`, by frame type. */
export interface ServerPayloads {
  queue_empty: Record<string, never>;
  heartbeat_ack: Record<string, never>;
  pong: Record<string, never>;
  token_refreshed: { expires_at: string };
  typing: { conversation_id: string; is_typing: boolean };
  call_offer: CallPayload;
  call_answer: CallPayload;
  call_reject: CallPayload;
  call_end: CallPayload;
  ice_candidate: CallPayload;
  call_busy: { call_id: string; user_id: string };
  presence: { contacts: ContactPresence[] };
  online_contacts: { contacts: ContactPresence[] };
  user_online: ContactPresence;
  user_offline: { user_id: string; last_seen?: string };
  device_approved: { request_id: string | null; device_id: string; primary?: true; approved_by?: string };
  device_approval_pending: { request_id: string; code: string | null; expires_at: string };
  device_approval_request: {
    request_id: string;
    user_id: string;
    device_id: string;
    device_name: string;
    device_type: string;
    identity_key: string;
    expires_at: string;
    ip_address: string;
    user_agent: string;
  };
  device_denied: { request_id: string; reason: string };
  /**
   * `revoked`: every device of the user ever revoked. `signed_list`: the
   * latest list the user's primary signed as a whole, as signed (it may lag
   * behind `devices` until the primary signs again), or null before the first.
   */
  devices: { user_id: string; devices: DeviceEntry[]; revoked: string[]; signed_list: SignedDeviceList | null };
  device_list_signed: { version: number };
  push_registered: { kind: 'webpush' | 'webhook' };
  push_unregistered: Record<string, never>;
}

/** Top-level fields some frames carry beside `type`, `timestamp` and `payload`. */
export interface ServerTopFields {
  /** Set on forwarded signals (typing, call_*) and on stored frames. */
  sender_id?: string;
  sender_device?: string;
  /** Set on stored frames: the id to put in `delivery_ack`. */
  message_id?: string;
}

type Simple<T extends keyof ServerPayloads> = { type: T; timestamp: string; payload: ServerPayloads[T] } & ServerTopFields;

/** Frame types whose payload is the ciphertext of a stored message. */
export type MessageFrameType = 'deliver' | 'media_key' | 'sync_request' | 'sync_data' | 'sync_ack';

export type MessageFrame = { [T in MessageFrameType]: MessageFrameOf<T> }[MessageFrameType];

export interface MessageFrameOf<T extends MessageFrameType> {
  type: T;
  message_id: string;
  sender_id: string;
  sender_device: string;
  timestamp: string;
  /** `group_size` (users the sender addressed) marks a group send; a `group_id` alone may come from a client that fans out itself. */
  payload: { ciphertext?: string; message_type?: string; group_id?: string; group_size?: number; media_id?: string; algorithm?: string; device_id?: string };
}

export interface SentAckFrame {
  type: 'sent_ack';
  message_id: string;
  timestamp: string;
  payload: { status: 'sent' };
}

export interface StatusUpdateFrame {
  type: 'status_update';
  message_id: string;
  timestamp: string;
  payload: { status: 'delivered' | 'read'; recipient_id: string; recipient_device: string };
}

export interface ErrorFrame {
  type: 'error';
  id?: string;
  timestamp: string;
  payload: {
    error_code: ErrorCode;
    message: string;
    retry_after?: number;
    missing?: string[];
    extra?: string[];
    /** A group send's device-set differences, one per user whose set differs. */
    mismatches?: { user_id: string; missing: string[]; extra: string[] }[];
    max_recipients?: number;
    max_rows?: number;
    attempts_left?: number;
    call_id?: string;
  };
}

export type ServerFrame = MessageFrame | SentAckFrame | StatusUpdateFrame | ErrorFrame | { [T in keyof ServerPayloads]: Simple<T> }[keyof ServerPayloads];

export type ServerFrameType = ServerFrame['type'];
export type ServerFrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;

/** Frames that sit in a device's queue until it sends `delivery_ack` with their `message_id`. */
export const storedFrameTypes = ['deliver', 'media_key', 'sync_request', 'sync_data', 'sync_ack', 'status_update', 'device_approval_request'] as const;
