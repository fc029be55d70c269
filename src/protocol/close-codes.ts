/**
 * Every WebSocket close code the relay uses, in one place. 4400-4499 tell a
 * client not to reconnect blindly (something about it must change first:
 * 4410, an operator's kick, asks for a fresh token before it comes back);
 * 1001 and 1013 tell it to come back with jittered backoff.
 */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
  tokenExpired: 4401,
  deviceNotAllowed: 4403,
  connectedElsewhere: 4409,
  closedByOperator: 4410,
  rateLimited: 4429,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Short reasons sent with each close; at most 123 bytes by RFC 6455. */
export const closeReason: Record<CloseCode, string> = {
  1000: 'normal',
  1001: 'server going away',
  1008: 'policy violation',
  1009: 'frame too big',
  1011: 'internal error',
  1013: 'try again later',
  4401: 'token expired',
  4403: 'device not allowed',
  4409: 'connected elsewhere',
  4410: 'closed by operator',
  4429: 'rate limited',
};
