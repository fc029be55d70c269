import type { Kysely } from 'kysely';
import type { Config } from '../config/config.ts';
import { resolveVapidKeys } from '../config/vapid-keys.ts';
import type { Database } from '../db/schema.ts';
import type { Logger } from '../util/logger.ts';
import { PushDispatcher } from './push-dispatcher.ts';
import type { PushSender } from './push-sender.ts';
import { newPushStats, type PushStats } from './push-stats.ts';
import { PushStore } from './push-store.ts';
import type { PushKind } from './push-target.ts';
import { WebhookSender } from './webhook-sender.ts';
import { WebPushSender } from './web-push-sender.ts';

/** What the session and the server need of push: the store, the dispatcher, and which kinds this relay serves. */
export interface Push {
  store: PushStore;
  dispatcher: PushDispatcher;
  stats: PushStats;
  /** The VAPID public key browsers subscribe with; unset when Web Push is off. */
  vapidPublicKey: string | undefined;
  /** Kinds a device may register here. */
  kinds: ReadonlySet<PushKind>;
  /** Web Push services a subscription's endpoint may point at. */
  origins: readonly string[];
}

export interface PushDeps {
  config: Config;
  db: Kysely<Database>;
  log: Logger;
  now: () => number;
  isLocal(user: string, device: string): boolean;
  liveDevices(user: string, now: number): Promise<Set<string>>;
}

/** Builds push from the configuration: Web Push when a VAPID pair is known, the webhook when its URL is set. */
export function openPush(d: PushDeps): Push {
  const c = d.config;
  const vapid = resolveVapidKeys(c);
  if (vapid.generatedAt) d.log.warn('no VAPID keys configured: using a generated development pair; set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY in production', { file: vapid.generatedAt });
  const senders: Partial<Record<PushKind, PushSender>> = {};
  if (vapid.keys) senders.webpush = new WebPushSender(vapid.keys, c.PUSH_TIMEOUT_MS, c.PUSH_TTL_SECONDS);
  if (c.PUSH_WEBHOOK_URL && c.PUSH_WEBHOOK_SECRET) senders.webhook = new WebhookSender(c.PUSH_WEBHOOK_URL, c.PUSH_WEBHOOK_SECRET, c.PUSH_TIMEOUT_MS, d.now);
  const store = new PushStore(d.db, c.DB_TIMEOUT_MS);
  const stats = newPushStats();
  const dispatcher = new PushDispatcher({
    store,
    senders,
    isLocal: d.isLocal,
    liveDevices: d.liveDevices,
    now: d.now,
    random: Math.random,
    log: d.log,
    stats,
    coalesceMs: c.PUSH_COALESCE_SECONDS * 1000,
    delayMs: c.PUSH_DELAY_MS,
    queueMax: c.PUSH_QUEUE_MAX,
    concurrency: c.PUSH_CONCURRENCY,
    attempts: c.PUSH_ATTEMPTS,
    retryBaseMs: 1000,
    retryMaxMs: 60_000,
    // Five failures in a row open a service's breaker for 30 s; one trial request then decides.
    breakerThreshold: 5,
    breakerCoolMs: 30_000,
    lookupTimeoutMs: c.DB_TIMEOUT_MS,
  });
  return {
    store,
    dispatcher,
    stats,
    vapidPublicKey: vapid.keys?.publicKey,
    kinds: new Set(Object.keys(senders) as PushKind[]),
    origins: c.PUSH_WEBPUSH_ORIGINS,
  };
}
