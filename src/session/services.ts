import type { Bus } from '../bus/bus.ts';
import type { CallRegistry } from '../calls/call-registry.ts';
import type { Config } from '../config/config.ts';
import type { DeliveryService } from '../delivery/delivery-service.ts';
import type { QueueStore } from '../delivery/queue-store.ts';
import type { ReceivedLog } from '../delivery/received-log.ts';
import type { RecentSends } from '../delivery/recent-sends.ts';
import type { EphemeralRouter } from '../delivery/router.ts';
import type { DeviceDirectory } from '../devices/device-directory.ts';
import type { DeviceLists } from '../devices/device-lists.ts';
import type { DeviceRegistry } from '../devices/device-registry.ts';
import type { OverloadGate } from '../limits/overload-gate.ts';
import type { RateRules } from '../limits/session-limits.ts';
import type { StoredRateLimit } from '../limits/stored-rate-limit.ts';
import type { ContactStore } from '../presence/contact-store.ts';
import type { Presence } from '../presence/presence.ts';
import type { PresenceService } from './presence-service.ts';
import type { Push } from '../push/open-push.ts';
import type { RelayCounters } from '../metrics/relay-counters.ts';
import type { Logger } from '../util/logger.ts';
import type { Hub } from './hub.ts';
import type { ExpiryWheel } from './expiry-wheel.ts';
import type { Session } from './session.ts';
import type { TypingTracker } from './typing-tracker.ts';
import type { TokenVerifier } from '../auth/token-verifier.ts';

/** Everything a frame handler may use; built once in main.ts. */
export interface Services {
  config: Config;
  log: Logger;
  now: () => number;
  hub: Hub;
  bus: Bus;
  /** Stored entries, from the send to the ack: every handler and session goes through it. */
  delivery: DeliveryService;
  /** Ephemeral frames (typing, presence, calls) for a user's devices anywhere; the delivery service's router. */
  router: EphemeralRouter;
  /** The queue itself, for the sweeper and the resync's probe; entries go through `delivery`. */
  store: QueueStore;
  devices: DeviceDirectory;
  registry: DeviceRegistry;
  /** The device lists users' primaries signed as a whole. */
  deviceLists: DeviceLists;
  rateLimit: StoredRateLimit;
  /** Per-device budgets (frames, bytes, stored messages, signals), from the limits table. */
  rates: RateRules;
  recent: RecentSends;
  /** Closes each socket when its token expires. */
  expiry: ExpiryWheel<Session>;
  /** Verifies tokens: at upgrade, and those token_refresh brings. */
  verifier: TokenVerifier;
  /** Messages this node's devices acked lately: the ones a read_receipt may report. */
  received: ReceivedLog;
  /** Admission of new stored frames while the node's event loop runs late. */
  overload: OverloadGate;
  calls: CallRegistry;
  /** Typing indicators of this node's devices, ended on timeout or close. */
  typing: TypingTracker;
  contacts: ContactStore;
  /** The lease store itself (for one-off lookups). */
  presenceStore: Presence;
  /** Presence as users see it: leases per session, snapshots, online/offline announcements. */
  presence: PresenceService;
  /** What the hot path counts, as plain numbers (the metrics endpoint reads them). */
  counters: RelayCounters;
  /** Wake-up of offline devices: their targets, and the dispatcher that pushes them. */
  push: Push;
}

/** The last instant formatted, reused: a busy node formats the same millisecond for many frames. */
let lastMs = Number.NaN;
let lastIso = '';

/** The current time as an ISO 8601 string, for frame timestamps. */
export function isoNow(svc: Pick<Services, 'now'>): string {
  const ms = svc.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
