/**
 * The `error` frame codes. Each answers one frame; none of them closes the
 * socket by itself (closing is decided by the session, with a close code).
 * `retryable` tells a client whether sending the same frame again later can
 * succeed without changing it.
 */
export const errorCodes = {
  invalid_frame: { retryable: false, text: 'frame is not a JSON object' },
  invalid_message: { retryable: false, text: 'frame does not match the schema for its type' },
  unknown_type: { retryable: false, text: 'unknown frame type' },
  mismatched_devices: { retryable: false, text: 'the device list does not match the recipient devices' },
  unknown_recipient: { retryable: false, text: 'the recipient has no devices' },
  forbidden: { retryable: false, text: 'this device may not do that' },
  unknown_call: { retryable: false, text: 'this device is not a party to a ringing or live call with that id and user' },
  target_offline: { retryable: true, text: 'the recipient has no online device' },
  overloaded: { retryable: true, text: 'the relay is overloaded; retry later' },
  id_reused: { retryable: false, text: 'this id was used lately for a different frame from this device; send it with a new id' },
  too_many_receipts: { retryable: false, text: 'this read_receipt would store too many rows; send its ids in smaller frames (max_ids)' },
  group_too_large: { retryable: false, text: 'this group send addresses too many users or devices (max_recipients, max_rows); split it' },
  contact_limit: { retryable: false, text: 'the user has the maximum number of contacts' },
  store_failed: { retryable: true, text: 'the message could not be stored; retry with the same id' },
  unavailable: { retryable: true, text: 'the relay could not reach its database or Redis; retry later with the same id' },
  rate_limited: { retryable: true, text: 'too many frames; slow down' },
  device_not_approved: { retryable: false, text: 'this device is not approved yet; register it and have a primary device approve it' },
  already_registered: { retryable: false, text: 'this device is already registered and approved' },
  not_primary: { retryable: false, text: 'only an approved primary device may do that' },
  request_not_found: { retryable: false, text: 'no such approval request for your user' },
  request_not_pending: { retryable: false, text: 'the approval request was already decided' },
  request_expired: { retryable: false, text: 'the approval request expired' },
  invalid_code: { retryable: false, text: 'wrong approval code' },
  invalid_signature: { retryable: false, text: 'the signature does not verify against the primary device key' },
  stale_list_version: { retryable: false, text: 'the device list version is not the next one; sign the current list again' },
  push_unavailable: { retryable: false, text: 'this relay does not send pushes of that kind' },
  push_endpoint_refused: { retryable: false, text: 'the push endpoint is not a push service this relay calls' },
  device_limit: { retryable: false, text: 'the user has the maximum number of devices' },
  invalid_token: { retryable: false, text: 'the token does not verify, has expired, names another device, or ends no later than the current one' },
  internal_error: { retryable: true, text: 'internal error' },
} as const satisfies Record<string, { retryable: boolean; text: string }>;

export type ErrorCode = keyof typeof errorCodes;
