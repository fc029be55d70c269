import type { Lease, Presence, Reaped } from './presence.ts';

export interface LeaseKeeperOptions {
  store: Presence;
  nodeId: string;
  now: () => number;
  ttlMs: number;
  reapIntervalMs: number;
  /** Users whose last lease, or last lease of some device, this node's reaper ended. */
  onReaped?: (reaped: Reaped) => void;
  /** Store failures are reported here and otherwise skipped: leases never block delivery. */
  onError: (what: string, err: unknown) => void;
}

/**
 * This node's leases in a lease store: one per owner (a socket), renewed
 * every third of the TTL while the owner lives, with a reaper that ends
 * expired leases anywhere in the cluster. Presence and the per-user
 * connection cap each keep their own.
 */
export class LeaseKeeper {
  private readonly held = new Map<object, Lease>();
  private seq = 0;
  private timers: NodeJS.Timeout[] = [];
  /** Leases renewed, and renewal rounds that failed, since start (metrics). */
  renewed = 0;
  renewFailures = 0;

  constructor(private readonly o: LeaseKeeperOptions) {}

  /** Records a new lease for `owner` (the caller writes it to the store, to learn whether the user came online). */
  take(owner: object, user: string, device: string): Lease {
    const lease: Lease = { user, device, conn: `${this.o.nodeId}:${++this.seq}` };
    this.held.set(owner, lease);
    return lease;
  }

  /** Forgets the owner's lease and shortens it in the store to the grace period. */
  release(owner: object): Lease | undefined {
    const lease = this.held.get(owner);
    if (!lease) return undefined;
    this.held.delete(owner);
    this.o.store.disconnect(lease, this.o.now()).catch((err: unknown) => this.o.onError('lease release', err));
    return lease;
  }

  get(owner: object): Lease | undefined {
    return this.held.get(owner);
  }

  start(): void {
    const refresh = setInterval(
      () => {
        const leases = [...this.held.values()];
        this.o.store.refresh(leases, this.o.now()).then(
          () => void (this.renewed += leases.length),
          (err: unknown) => {
            this.renewFailures++;
            this.o.onError('lease refresh', err);
          },
        );
      },
      Math.max(1000, Math.floor(this.o.ttlMs / 3)),
    );
    const reap = setInterval(
      () =>
        void this.o.store
          .reap(this.o.now())
          .then((r) => (r.offline.length > 0 || r.thinned.length > 0) && this.o.onReaped?.(r))
          .catch((err: unknown) => this.o.onError('lease reap', err)),
      this.o.reapIntervalMs,
    );
    refresh.unref();
    reap.unref();
    this.timers = [refresh, reap];
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }
}
