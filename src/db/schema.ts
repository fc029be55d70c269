import type { ColumnType, Generated } from 'kysely';

/** Row types of the relay's tables, as kysely sees them. */

export type DeviceStatus = 'unregistered' | 'pending' | 'approved' | 'denied' | 'revoked';

export interface DevicesTable {
  user_id: string;
  device_id: string;
  created_at: ColumnType<Date, Date | string, never>;
  last_seen_at: ColumnType<Date, Date | string, Date | string>;
  status: ColumnType<DeviceStatus, DeviceStatus | undefined, DeviceStatus>;
  is_primary: ColumnType<boolean, boolean | undefined, boolean>;
  device_name: string | null;
  device_type: string | null;
  /** Ed25519 public key, standard base64 of 32 bytes. */
  identity_key: string | null;
  approved_by: string | null;
  /** The approving primary's signature over the approval bytes, base64. */
  approval_signature: string | null;
  /** The request id the signature covers (part of the signed bytes). */
  approval_request: string | null;
  approved_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  revoked_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
}

export type RequestStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';

export interface ApprovalRequestsTable {
  request_id: string;
  user_id: string;
  device_id: string;
  code_hash: string;
  attempts: ColumnType<number, number | undefined, number>;
  status: RequestStatus;
  ip_address: string | null;
  user_agent: string | null;
  created_at: ColumnType<Date, Date | string, never>;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  decided_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
}

export interface RateLimitsTable {
  key: string;
  window_start: ColumnType<Date, Date | string, Date | string>;
  count: number;
}

/**
 * One row per (recipient device, stored frame). `dedup_key` identifies the
 * frame within that device's queue, so a retried send is stored once.
 * `frame` is the exact text delivered to the device.
 */
export interface QueueTable {
  seq: Generated<string>;
  recipient_user: string;
  recipient_device: string;
  dedup_key: string;
  message_id: string;
  kind: string;
  sender_user: string;
  sender_device: string;
  frame: string;
  created_at: ColumnType<Date, Date | string, never>;
}

export interface ContactsTable {
  owner_id: string;
  contact_id: string;
  created_at: ColumnType<Date, Date | string, never>;
}

/**
 * The latest device list each user's primary signed. `statement` is the
 * signed content as JSON (primary, devices, revoked), kept as signed so
 * the relay sends it unchanged even after the devices moved on.
 */
export interface DeviceListsTable {
  user_id: string;
  version: ColumnType<number, number, number>;
  signer: string;
  signature: string;
  statement: string;
  signed_at: ColumnType<Date, Date | string, Date | string>;
}

/**
 * How to wake one device while it is offline (docs/push.md). `webpush`
 * rows hold the browser's subscription (endpoint and its two keys);
 * `webhook` rows an opaque token for the operator's push service.
 */
export interface PushTargetsTable {
  user_id: string;
  device_id: string;
  kind: 'webpush' | 'webhook';
  endpoint: string | null;
  p256dh: string | null;
  auth: string | null;
  token: string | null;
  created_at: ColumnType<Date, Date | string, Date | string>;
  /** The last push claimed for this device, by any node: the coalescing window starts here. */
  last_pushed_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
}

export interface Database {
  contacts: ContactsTable;
  device_lists: DeviceListsTable;
  devices: DevicesTable;
  push_targets: PushTargetsTable;
  queue: QueueTable;
  approval_requests: ApprovalRequestsTable;
  rate_limits: RateLimitsTable;
}
