import type { Lease, Presence } from '../presence/presence.ts';
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
  private readonly held = new Map<object, Lease>();
  private seq = 0;
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly o: UserConnectionsOptions) {}

  async admit(user: string, device: string): Promise<boolean> {
    try {
      return (await this.o.leases.countLive(user, this.o.now(), device)) < this.o.cap;
    } catch (err) {
      this.o.log.debug('connection count unavailable; admitting', { err });
      return true;
    }
  }

  opened(owner: object, user: string, device: string): void {
    const lease: Lease = { user, device, conn: `${this.o.nodeId}:${++this.seq}` };
    this.held.set(owner, lease);
    this.o.leases.connect(lease, this.o.now()).catch(() => {});
  }

  closed(owner: object): void {
    const lease = this.held.get(owner);
    if (!lease) return;
    this.held.delete(owner);
    this.o.leases.disconnect(lease, this.o.now()).catch(() => {});
  }

  start(): void {
    const refresh = setInterval(() => void this.o.leases.refresh([...this.held.values()], this.o.now()).catch(() => {}), Math.max(1000, Math.floor(this.o.ttlMs / 3)));
    // Reaping here only tidies the store; nobody is told anything.
    const reap = setInterval(() => void this.o.leases.reap(this.o.now()).catch(() => {}), Math.max(1000, Math.floor(this.o.ttlMs / 3)));
    refresh.unref();
    reap.unref();
    this.timers = [refresh, reap];
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }
}
