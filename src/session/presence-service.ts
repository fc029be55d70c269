import type { Router } from '../delivery/router.ts';
import type { ContactStore } from '../presence/contact-store.ts';
import { LeaseKeeper } from '../presence/lease-keeper.ts';
import type { Presence } from '../presence/presence.ts';
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

  start(): void {
    this.leases.start();
  }

  stop(): void {
    this.leases.stop();
  }

  /** An approved device is here: lease, snapshot, and `user_online` if its user just came online. */
  async online(s: Session): Promise<void> {
    const lease = this.leases.take(s, s.userId, s.deviceId);
    await this.guard('presence connect', async () => {
      const cameOnline = await this.o.presence.connect(lease, this.o.now());
      const mutual = await this.o.contacts.mutual(s.userId);
      const online = await this.o.presence.onlineAmong(mutual, this.o.now());
      s.reply(encodeFrame('presence', this.iso(), { contacts: mutual.map((u) => ({ user_id: u, online: online.has(u) })) }));
      if (cameOnline) await this.announce(s.userId, true, mutual);
    });
  }

  /** The device left: its lease runs out after the grace period (the reaper reports the offline). */
  offline(s: Session): void {
    this.leases.release(s);
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
