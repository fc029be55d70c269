/**
 * Whether an error means that Postgres or Redis could not be reached or
 * was not taking work (refused, reset, shutting down, starting up, out of
 * connections), as opposed to a bug. A frame that failed for such a reason
 * is answered `unavailable` (retry later), and logged as a warning: the
 * outage is the operator's news, not a stack trace per frame.
 */
const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** SQLSTATEs: class 08 (connection exception), shutdown and start-up (57P01-57P03), too many connections (53300). */
const unavailableStates = /^(08|57P0[123]$|53300$)/;
const unavailableMessages = [
  /^Connection terminated/,
  /^Connection is closed/,
  /enableOfflineQueue options is false/,
  /^Reached the max retries per request limit/,
  /^Client was closed/,
  /^timeout exceeded when trying to connect/,
];

export function isServiceUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (networkCodes.has(code) || unavailableStates.test(code))) return true;
    if (unavailableMessages.some((m) => m.test(e instanceof Error ? e.message : ''))) return true;
  }
  return false;
}
