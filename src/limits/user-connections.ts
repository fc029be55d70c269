import { LeaseKeeper } from '../presence/lease-keeper.ts';
import type { Presence } from '../presence/presence.ts';
import type { Logger } from '../util/logger.ts';

export interface UserConnectionsOptions {
  /** A lease store of its own (not the presence one): every connection counts here, approved or not. */
  leases: Presence;
  cap: number;
  nodeId: string;
  now: () => number;
  ttlMs: number;
  log: Logger;
}

/**
 * The per-user connection cap, across nodes: every open socket holds a
 * lease in a shared store (Redis with REDIS_URL), renewed by its node, so a
 * crashed node's sockets stop counting within the TTL. The check at the
 * upgrade and the lease taken at open are two steps, so two simultaneous
 * upgrades can overshoot by one; the cap bounds abuse, it is not a quota.
 * If the store cannot answer, the upgrade is allowed: the other limits
 * still hold, and Redis trouble must not lock every user out.
 */
export class UserConnections {
  private readonly keeper: LeaseKeeper;

  constructor(private readonly o: UserConnectionsOptions) {
    // Reaping here only tidies the store; nobody is told anything.
    this.keeper = new LeaseKeeper({
      store: o.leases,
      nodeId: o.nodeId,
      now: o.now,
      ttlMs: o.ttlMs,
      reapIntervalMs: Math.max(1000, Math.floor(o.ttlMs / 3)),
      onError: (what, err) => o.log.debug(`${what} skipped`, { err }),
    });
  }

  async admit(user: string, device: string): Promise<boolean> {
    try {
      return (await this.o.leases.countLive(user, this.o.now(), device)) < this.o.cap;
    } catch (err) {
      this.o.log.debug('connection count unavailable; admitting', { err });
      return true;
    }
  }

  opened(owner: object, user: string, device: string): void {
    const lease = this.keeper.take(owner, user, device);
    this.o.leases.connect(lease, this.o.now()).catch(() => {});
  }

  closed(owner: object): void {
    this.keeper.release(owner);
  }

  start(): void {
    this.keeper.start();
  }

  stop(): void {
    this.keeper.stop();
  }
}
