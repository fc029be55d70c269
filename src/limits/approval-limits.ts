import type { WindowRule } from './stored-rate-limit.ts';

/**
 * Limits on the approval flow, counted in Postgres so that they hold across
 * nodes. Registration is rare (a new login); approval attempts are what a
 * code-guessing attacker would spend, so both are tight.
 */
export const approvalLimits = {
  /** A device may (re)register 5 times an hour: each registration issues a new code. */
  registerPerDevice: { limit: 5, windowMs: 3_600_000 },
  /** A user may see 20 registrations an hour across all their devices. */
  registerPerUser: { limit: 20, windowMs: 3_600_000 },
  /** Approve and deny attempts by one device, and for one user, per 10 minutes. */
  decidePerDevice: { limit: 20, windowMs: 600_000 },
  decidePerUser: { limit: 30, windowMs: 600_000 },
  /** Wrong codes that deny a request. */
  maxCodeAttempts: 3,
} as const satisfies Record<string, WindowRule | number>;
