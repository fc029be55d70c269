import { z } from 'zod';
import { DEFAULT_PUSH_ORIGINS } from '../push/push-target.ts';
import { commaList, emptyAsUndefined, int } from './env-fields.ts';

/** Push wake-up settings (docs/push.md), merged into the relay's configuration schema. */

export const pushConfigFields = {
  // VAPID key pair (base64url, as `npx web-push generate-vapid-keys` prints); unset: generated under DATA_DIR in development.
  VAPID_PUBLIC_KEY: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{87}$/, 'a base64url P-256 public key (87 characters)')
      .optional(),
  ),
  VAPID_PRIVATE_KEY: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url P-256 private key (43 characters)')
      .optional(),
  ),
  // Contact for push services, a mailto: or https: URL.
  VAPID_SUBJECT: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^(mailto:|https:\/\/)/, 'must start with mailto: or https://')
      .default('mailto:relay@localhost'),
  ),
  // Web Push services the relay may call (origins, `https://*.host` for subdomains); a device's endpoint elsewhere is refused.
  PUSH_WEBPUSH_ORIGINS: z.preprocess(emptyAsUndefined, commaList.default([...DEFAULT_PUSH_ORIGINS])),
  // The operator's push service (bridging to APNs/FCM); unset: `webhook` registrations are refused.
  PUSH_WEBHOOK_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  // Shared secret of the webhook's HMAC-SHA256 signature.
  PUSH_WEBHOOK_SECRET: z.preprocess(emptyAsUndefined, z.string().min(32, 'must be at least 32 characters').optional()),
  // One wake per device per window while it stays offline; a connect starts a new window.
  PUSH_COALESCE_SECONDS: int(60, 1, 86_400),
  // A committed message waits this long before its device is looked at, for an ack or a connect to land.
  PUSH_DELAY_MS: int(1000, 0, 60_000),
  // Deadline of one push request.
  PUSH_TIMEOUT_MS: int(5000, 100, 60_000),
  // Devices waiting for a push or its retry on one node; past it wakes are dropped (and counted).
  PUSH_QUEUE_MAX: int(100_000, 1, 10_000_000),
  // Push requests in flight at once per node.
  PUSH_CONCURRENCY: int(32, 1, 10_000),
  // Attempts per wake, the first included, with doubling backoff from one second.
  PUSH_ATTEMPTS: int(5, 1, 20),
  // How long a push service keeps a wake it could not deliver yet.
  PUSH_TTL_SECONDS: int(86_400, 0, 2_419_200),
};

/** Checks across push fields, for the schema's superRefine. */
export function checkPushConfig(c: { VAPID_PUBLIC_KEY?: string; VAPID_PRIVATE_KEY?: string; PUSH_WEBHOOK_URL?: string; PUSH_WEBHOOK_SECRET?: string }, ctx: z.RefinementCtx): void {
  if ((c.VAPID_PUBLIC_KEY === undefined) !== (c.VAPID_PRIVATE_KEY === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['VAPID_PRIVATE_KEY'], message: 'set both VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY, or neither' });
  }
  if (c.PUSH_WEBHOOK_URL !== undefined && c.PUSH_WEBHOOK_SECRET === undefined) {
    ctx.addIssue({ code: 'custom', path: ['PUSH_WEBHOOK_SECRET'], message: 'required when PUSH_WEBHOOK_URL is set' });
  }
}
