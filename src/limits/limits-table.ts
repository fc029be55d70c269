// biome-ignore-all format: the limits read as a table, one per line
/**
 * Every hot-path limit of the relay in one table: the environment variable
 * that sets it, its default and why, and what a client sees when it breaks
 * it. config.ts builds its schema from this table, and SECURITY.md
 * publishes it; a test keeps the two in step.
 */
export interface LimitSpec {
  env: string;
  default: number;
  min: number;
  max: number;
  unit: string;
  onBreach: string;
  why: string;
}

export const limitsTable = {
  frameBytes: { env: 'MAX_FRAME_BYTES', default: 64 * 1024, min: 1024, max: 16 * 1024 * 1024, unit: 'bytes', onBreach: 'close 1009', why: 'a ciphertext for one device fits easily; larger payloads belong in media storage' },
  tokenBytes: { env: 'MAX_TOKEN_BYTES', default: 4096, min: 256, max: 65_536, unit: 'bytes', onBreach: 'HTTP 401', why: 'RFC 8725: bound untrusted input before parsing it' },
  messageBurst: { env: 'RATE_MESSAGES_BURST', default: 60, min: 1, max: 100_000, unit: 'frames', onBreach: 'error rate_limited (retry_after)', why: 'stored frames (send, media_key, sync_*): a burst like Signal-Server allows' },
  messageRate: { env: 'RATE_MESSAGES_PER_SECOND', default: 1, min: 0.01, max: 100_000, unit: 'frames/s', onBreach: 'error rate_limited (retry_after)', why: 'sustained rate of stored frames per device' },
  signalBurst: { env: 'RATE_SIGNALS_BURST', default: 120, min: 1, max: 100_000, unit: 'frames', onBreach: 'error rate_limited (retry_after)', why: 'typing and call signalling (ICE candidates come in bursts)' },
  signalRate: { env: 'RATE_SIGNALS_PER_SECOND', default: 20, min: 0.01, max: 100_000, unit: 'frames/s', onBreach: 'error rate_limited (retry_after)', why: 'sustained rate of typing and call frames per device' },
  receiptBurst: { env: 'RATE_RECEIPTS_BURST', default: 60, min: 1, max: 100_000, unit: 'frames', onBreach: 'error rate_limited (retry_after)', why: 'read_receipt frames: opening a few chats in a row sends one each' },
  receiptRate: { env: 'RATE_RECEIPTS_PER_SECOND', default: 2, min: 0.01, max: 100_000, unit: 'frames/s', onBreach: 'error rate_limited (retry_after)', why: 'sustained read_receipt frames per device' },
  receiptRows: { env: 'MAX_RECEIPT_ROWS', default: 600, min: 1, max: 100_000, unit: 'rows', onBreach: 'error too_many_receipts (max_ids), nothing stored', why: 'status_update rows one read_receipt may store: its message ids times the sender\'s devices (100 ids to a sender with 6 devices)' },
  groupRecipients: { env: 'MAX_GROUP_RECIPIENTS', default: 100, min: 1, max: 1000, unit: 'users', onBreach: 'error group_too_large (max_recipients, max_rows), nothing stored', why: 'users one group send addresses; it counts as one stored frame against the message budget' },
  groupRows: { env: 'MAX_GROUP_ROWS', default: 600, min: 1, max: 10_000, unit: 'rows', onBreach: 'error group_too_large (max_recipients, max_rows), nothing stored', why: 'queue rows one group send stores: a ciphertext per device of every member (100 members with 6 devices)' },
  receivedMemory: { env: 'RECEIVED_MEMORY', default: 200_000, min: 1000, max: 10_000_000, unit: 'messages', onBreach: 'a read_receipt for an older message is not stored', why: 'per node: the latest messages its devices acked, the only ones a read_receipt may report (about 180 bytes each)' },
  controlBurst: { env: 'RATE_CONTROL_BURST', default: 20, min: 1, max: 100_000, unit: 'frames', onBreach: 'error rate_limited (retry_after)', why: 'frames that read or write the database outside the write queue (devices_list, contact_*, device_*): a few devices must not occupy the pool' },
  controlRate: { env: 'RATE_CONTROL_PER_SECOND', default: 1, min: 0.01, max: 100_000, unit: 'frames/s', onBreach: 'error rate_limited (retry_after)', why: 'sustained control frames per device' },
  contactsPerUser: { env: 'MAX_CONTACTS_PER_USER', default: 5000, min: 1, max: 1_000_000, unit: 'contacts', onBreach: 'error contact_limit', why: 'bounds the rows one user adds and the fan-out of its presence' },
  inflightBytes: { env: 'MAX_INFLIGHT_BYTES', default: 4 * 1024 * 1024, min: 64 * 1024, max: 1024 * 1024 * 1024, unit: 'bytes', onBreach: 'delivery pauses until acks', why: 'frames sent to one device and not yet acked, counted in bytes as well as in frames: a reader that never acks pins at most this much' },
  frameBurst: { env: 'RATE_FRAMES_BURST', default: 500, min: 1, max: 1_000_000, unit: 'frames', onBreach: 'error rate_limited (retry_after)', why: 'every frame, acks and heartbeats included' },
  frameRate: { env: 'RATE_FRAMES_PER_SECOND', default: 100, min: 0.01, max: 1_000_000, unit: 'frames/s', onBreach: 'error rate_limited (retry_after)', why: 'sustained rate of all frames per device' },
  bytesBurst: { env: 'RATE_BYTES_BURST', default: 2 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024, unit: 'bytes', onBreach: 'error rate_limited (retry_after)', why: 'inbound bytes a device may send at once' },
  bytesRate: { env: 'RATE_BYTES_PER_SECOND', default: 256 * 1024, min: 1024, max: 1024 * 1024 * 1024, unit: 'bytes/s', onBreach: 'error rate_limited (retry_after)', why: 'sustained inbound bytes per device' },
  rateStrikes: { env: 'RATE_LIMIT_STRIKES', default: 20, min: 1, max: 10_000, unit: 'frames', onBreach: 'close 4429', why: 'rate-limited frames within a minute before the relay gives up on the device' },
  connectionsPerIp: { env: 'MAX_CONNECTIONS_PER_IP', default: 200, min: 1, max: 1_000_000, unit: 'sockets', onBreach: 'HTTP 429', why: 'per node; large NATs share an address, so it is generous' },
  connectsPerIpBurst: { env: 'RATE_CONNECTS_PER_IP_BURST', default: 60, min: 1, max: 1_000_000, unit: 'upgrades', onBreach: 'HTTP 429', why: 'upgrade attempts from one address, per node' },
  connectsPerIpRate: { env: 'RATE_CONNECTS_PER_IP_PER_SECOND', default: 10, min: 0.01, max: 1_000_000, unit: 'upgrades/s', onBreach: 'HTTP 429', why: 'sustained upgrade attempts from one address' },
  connectionsPerUser: { env: 'MAX_CONNECTIONS_PER_USER', default: 16, min: 1, max: 10_000, unit: 'sockets', onBreach: 'HTTP 429', why: 'one socket per device, and a user has few devices; bounds device ids made up by a token holder' },
  unregisteredPerUser: { env: 'MAX_UNREGISTERED_DEVICES_PER_USER', default: 16, min: 1, max: 10_000, unit: 'devices', onBreach: 'HTTP 429', why: 'device rows a token holder can create by connecting with made-up device ids before any registers; rows unseen for UNREGISTERED_TTL_HOURS are removed' },
  connectionsPerNode: { env: 'MAX_CONNECTIONS', default: 100_000, min: 1, max: 10_000_000, unit: 'sockets', onBreach: 'close 1013', why: 'protects the node; clients retry with backoff and the balancer picks another node' },
  slowConsumerSeconds: { env: 'SLOW_CONSUMER_SECONDS', default: 30, min: 1, max: 3600, unit: 's', onBreach: 'close 1013', why: 'a device whose socket stays backed up this long is dropped; its messages stay queued for its next connection' },
  overloadLagMs: { env: 'OVERLOAD_LAG_MS', default: 50, min: 5, max: 60_000, unit: 'ms', onBreach: 'error overloaded (retry_after); upgrade HTTP 503 (Retry-After)', why: 'event-loop lateness that counts as overload; a node late by more for OVERLOAD_SUSTAIN_MS refuses a share of new stored frames and of new connections, growing while it stays late (acks still go through)' },
  overloadSustainMs: { env: 'OVERLOAD_SUSTAIN_MS', default: 1000, min: 100, max: 600_000, unit: 'ms', onBreach: 'error overloaded (retry_after); upgrade HTTP 503 (Retry-After)', why: 'how long the loop must stay late (three samples at least) before shedding starts, so that one pause of the process sheds nothing' },
  authDeadlineMs: { env: 'AUTH_DEADLINE_MS', default: 5000, min: 100, max: 60_000, unit: 'ms', onBreach: 'HTTP 503', why: 'token verification and the device record must finish within this' },
} as const satisfies Record<string, LimitSpec>;
