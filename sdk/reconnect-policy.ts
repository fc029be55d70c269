import { CloseCode } from '../src/protocol/close-codes.ts';

/**
 * When and whether to reconnect. Pure functions, so every branch is tested
 * on its own and the client only carries them out.
 */

export interface BackoffOptions {
  /** First delay ceiling, in ms. */
  baseMs: number;
  /** Largest delay, in ms. */
  capMs: number;
}

export const defaultBackoff: BackoffOptions = { baseMs: 500, capMs: 30_000 };

/**
 * Exponential backoff with full jitter: a uniform delay in
 * [0, min(cap, base * 2^attempt)). Full jitter spreads a crowd of clients
 * that lost the same node over the whole window, so they do not come back
 * in lockstep. `random` is injected (Math.random in production).
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * How long to wait before sending a refused frame again (`overloaded`,
 * `rate_limited`, `store_failed`, `unavailable`, `internal_error`): never less than the
 * relay asked for, doubling with each refusal of the same frame up to the
 * cap, and spread evenly over [d, 2d). A node that sheds load refuses many
 * clients in the same moment; sending again exactly when asked would bring
 * them all back in one wave, which it would refuse again.
 */
export function retryDelay(askedMs: number, refusals: number, opts: BackoffOptions, random: () => number): number {
  const d = Math.min(opts.capMs, askedMs * 2 ** Math.min(refusals, 30));
  return Math.max(askedMs, Math.floor(d * (1 + random())));
}

export type CloseAdvice =
  /** Reconnect after a jittered backoff. */
  | { action: 'reconnect'; minDelayMs: number }
  /** Fetch a fresh token first, then reconnect. */
  | { action: 'refresh_token' }
  /** Do not reconnect: something about this client must change first. */
  | { action: 'stop'; why: string };

/**
 * What a close code asks of a client. The relay's 44xx codes mean "do not
 * come back as you are": a denied or revoked device (4403) and a device that
 * connected elsewhere (4409) stop for good, an expired token (4401) and an
 * operator's kick (4410) need a fresh token first, and 4429 waits out the rate limit before trying again. Policy and
 * size violations (1008, 1009) would repeat on reconnect, so they stop too.
 * Everything else (1001 restart, 1013 overload, 1011, 1006 lost network) is
 * retried with backoff, 1013 no sooner than a few seconds.
 */
export function adviseOnClose(code: number): CloseAdvice {
  switch (code) {
    case CloseCode.deviceNotAllowed:
      return { action: 'stop', why: 'device denied or revoked' };
    case CloseCode.connectedElsewhere:
      return { action: 'stop', why: 'this device connected from somewhere else' };
    case CloseCode.policy:
      return { action: 'stop', why: 'the relay closed this client for violating the protocol' };
    case CloseCode.tooBig:
      return { action: 'stop', why: 'a frame was larger than the relay accepts' };
    case CloseCode.tokenExpired:
    case CloseCode.closedByOperator:
      return { action: 'refresh_token' };
    case CloseCode.rateLimited:
      return { action: 'reconnect', minDelayMs: 60_000 };
    case CloseCode.tryAgainLater:
      return { action: 'reconnect', minDelayMs: 2_000 };
    default:
      return { action: 'reconnect', minDelayMs: 0 };
  }
}
