import type { Router } from '../delivery/router.ts';
import type { ContactStore } from '../presence/contact-store.ts';
import { LeaseKeeper } from '../presence/lease-keeper.ts';
import type { Lease, Presence } from '../presence/presence.ts';
import { encodeFrame } from '../protocol/server-frames.ts';
import type { Logger } from '../util/logger.ts';
import type { Hub } from './hub.ts';
import type { Session } from './session.ts';

export interface PresenceServiceOptions {
  presence: Presence;
  contacts: ContactStore;
  router: Router;
  hub: Hub;
  log: Logger;
  now: () => number;
  nodeId: string;
  ttlMs: number;
  reapIntervalMs: number;
}

/**
 * Presence as users see it: an approved device that connects takes a lease
 * and gets a `presence` snapshot of its mutual contacts; a user's first
 * lease sends `user_online`, the end of its last sends `user_offline`, to
 * mutual contacts only. Presence never blocks delivery: every Redis call is
 * bounded and a failure is logged and skipped; after an outage the leases of
 * this node are taken again (`resync`).
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
      onReaped: (users) => {
        for (const user of users) void this.guard('presence announce', () => this.announce(user, false));
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
      const cameOnline = await this.o.presence.connect(lease, this.o.now());
      const mutual = await this.o.contacts.mutual(s.userId);
      const online = await this.o.presence.onlineAmong(mutual, this.o.now());
      s.reply(encodeFrame('presence', this.iso(), { contacts: mutual.map((u) => ({ user_id: u, online: online.has(u) })) }));
      if (cameOnline) await this.announce(s.userId, true, mutual);
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

  /** Tells `user`'s mutual contacts that it came online or went offline. */
  async announce(user: string, online: boolean, mutual?: string[]): Promise<void> {
    const contacts = mutual ?? (await this.o.contacts.mutual(user));
    const frame = encodeFrame(online ? 'user_online' : 'user_offline', this.iso(), online ? { user_id: user } : { user_id: user, last_seen: this.iso() });
    for (const c of contacts) this.o.router.push(c, frame);
  }

  /** After a Redis outage: take this node's leases again, announcing users whose leases were reaped meanwhile. */
  resync(): void {
    for (const s of this.o.hub.all()) {
      if (!s.isApproved) continue;
      const lease = this.leases.get(s);
      if (!lease) continue;
      void this.guard('presence resync', async () => {
        if (await this.o.presence.connect(lease, this.o.now())) await this.announce(s.userId, true);
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
