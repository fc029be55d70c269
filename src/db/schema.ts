import type { ColumnType, Generated } from 'kysely';

/** Row types of the relay's tables, as kysely sees them. */

export interface DevicesTable {
  user_id: string;
  device_id: string;
  created_at: ColumnType<Date, Date | string, never>;
  last_seen_at: ColumnType<Date, Date | string, Date | string>;
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

export interface Database {
  devices: DevicesTable;
  queue: QueueTable;
}
