import type { EphemeralRouter } from '../delivery/router.ts';
import type { ContactStore } from '../presence/contact-store.ts';
import { LeaseKeeper } from '../presence/lease-keeper.ts';
import { presenceEntry } from '../presence/presence-entry.ts';
import type { Lease, Presence, PresenceState } from '../presence/presence.ts';
import { encodeFrame } from '../protocol/server-frames.ts';
import type { Logger } from '../util/logger.ts';
import type { Hub } from './hub.ts';
import type { Session } from './session.ts';

export interface PresenceServiceOptions {
  presence: Presence;
  contacts: ContactStore;
  router: EphemeralRouter;
  hub: Hub;
  log: Logger;
  now: () => number;
  nodeId: string;
  /** The type a device registered with (what contacts see beside its state). */
  deviceType: (user: string, device: string) => Promise<string | null>;
  ttlMs: number;
  reapIntervalMs: number;
}

/**
 * Presence as users see it: an approved device that connects takes a lease
 * and gets a `presence` snapshot of its mutual contacts; a user's first
 * lease sends `user_online`, the end of its last sends `user_offline`, to
 * mutual contacts only. Between those, a `presence` entry tells contacts
 * when the user's devices or their states change: a device sets a state, a
 * device joins, or one leaves (the reaper finds it). A reconnect within the
 * grace period changes nothing anyone sees, and sends nothing.
 *
 * Presence never blocks delivery: every Redis call is bounded and a failure
 * is logged and skipped; after an outage the leases of this node are taken
 * again (`resync`).
 */
export class PresenceService {
  private readonly leases: LeaseKeeper;
  /** Sessions whose connect did not complete (a Redis timeout, say): retried on a timer until it does. */
  private readonly unconfirmed = new Set<Session>();
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: PresenceServiceOptions) {
    this.leases = new LeaseKeeper({
      store: o.presence,
      nodeId: o.nodeId,
      now: o.now,
      ttlMs: o.ttlMs,
      reapIntervalMs: o.reapIntervalMs,
      onReaped: ({ offline, thinned }) => {
        for (const user of offline) void this.guard('presence announce', () => this.announce(user, false));
        for (const user of thinned) void this.guard('presence update', () => this.update(user));
      },
      onError: (what, err) => o.log.debug(`${what} skipped`, { err }),
    });
  }

  /** Presence leases renewed, and failed renewal rounds, since start (metrics). */
  leaseStats(): { renewed: number; failures: number } {
    return { renewed: this.leases.renewed, failures: this.leases.renewFailures };
  }

  start(): void {
    this.leases.start();
    this.retryTimer = setInterval(() => this.retryUnconfirmed(), Math.max(1000, Math.floor(this.o.ttlMs / 3)));
    this.retryTimer.unref();
  }

  stop(): void {
    this.leases.stop();
    clearInterval(this.retryTimer);
  }

  /** An approved device is here: lease, snapshot, and `user_online` if its user just came online. */
  async online(s: Session): Promise<void> {
    await this.confirm(s, this.leases.take(s, s.userId, s.deviceId));
  }

  /** The device left: its lease runs out after the grace period (the reaper reports the offline). */
  offline(s: Session): void {
    this.unconfirmed.delete(s);
    this.leases.release(s);
  }

  /**
   * Writes the lease, sends the snapshot and, when the user just came
   * online, the announcement. A failure leaves the session for a retry
   * rather than without presence until it reconnects: connect answers a
   * repeated call for the same lease the same way, so a retry after a reply
   * lost to a timeout still announces.
   */
  private async confirm(s: Session, lease: Lease): Promise<void> {
    try {
      // Only shown to contacts: a database that cannot say leaves it unknown rather than holding presence up.
      s.deviceType ??= await this.o.deviceType(s.userId, s.deviceId).catch(() => null);
      const joined = await this.o.presence.connect(lease, this.o.now());
      // The session's own state, not 'online': a `presence` frame may have come first.
      await this.o.presence.setState(s.userId, s.deviceId, s.presenceState, s.deviceType, this.o.now());
      const mutual = await this.o.contacts.mutual(s.userId);
      const seen = await this.o.presence.describe(mutual, this.o.now());
      s.reply(encodeFrame('presence', this.iso(), { contacts: mutual.map((u) => presenceEntry(u, seen.get(u))) }));
      if (joined === 'user') await this.announce(s.userId, true, mutual);
      else if (joined === 'device') await this.update(s.userId, mutual);
    } catch (err) {
      this.o.log.debug('presence connect failed; will retry', { err });
      if (!s.closed && this.leases.get(s) === lease) this.unconfirmed.add(s);
    }
  }

  private retryUnconfirmed(): void {
    for (const s of this.unconfirmed) {
      // Out of the set while the attempt runs, so that a slow attempt is never doubled.
      this.unconfirmed.delete(s);
      const lease = this.leases.get(s);
      if (lease && !s.closed) void this.confirm(s, lease);
    }
  }

  /** A device of `s`'s user set its state: recorded, and its contacts told. */
  async setState(s: Session, state: PresenceState): Promise<void> {
    s.presenceState = state;
    await this.o.presence.setState(s.userId, s.deviceId, state, s.deviceType ?? null, this.o.now());
    await this.update(s.userId);
  }

  /** Tells `user`'s mutual contacts that it came online (with its devices) or went offline. */
  async announce(user: string, online: boolean, mutual?: string[]): Promise<void> {
    const contacts = mutual ?? (await this.o.contacts.mutual(user));
    if (contacts.length === 0) return;
    const frame = online
      ? encodeFrame('user_online', this.iso(), presenceEntry(user, (await this.o.presence.describe([user], this.o.now())).get(user)))
      : encodeFrame('user_offline', this.iso(), { user_id: user, last_seen: this.iso() });
    for (const c of contacts) this.o.router.push(c, frame);
  }

  /** Tells `user`'s mutual contacts its current devices and status (one `presence` entry). */
  async update(user: string, mutual?: string[]): Promise<void> {
    const contacts = mutual ?? (await this.o.contacts.mutual(user));
    if (contacts.length === 0) return;
    const entry = presenceEntry(user, (await this.o.presence.describe([user], this.o.now())).get(user));
    const frame = encodeFrame('presence', this.iso(), { contacts: [entry] });
    for (const c of contacts) this.o.router.push(c, frame);
  }

  /** After a Redis outage: take this node's leases again, announcing users whose leases were reaped meanwhile. */
  resync(): void {
    for (const s of this.o.hub.all()) {
      if (!s.isApproved) continue;
      const lease = this.leases.get(s);
      if (!lease) continue;
      void this.guard('presence resync', async () => {
        if ((await this.o.presence.connect(lease, this.o.now())) === 'user') await this.announce(s.userId, true);
      });
    }
  }

  private iso(): string {
    return new Date(this.o.now()).toISOString();
  }

  private async guard(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.o.log.debug(`${what} skipped`, { err });
    }
  }
}
