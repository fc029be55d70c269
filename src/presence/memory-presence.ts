import { leaseMember, type Lease, type Presence, type PresenceTiming } from './presence.ts';

/**
 * Presence in this process, for a single node (no REDIS_URL). Same rules
 * as the Redis version; the shared contract test holds both to them.
 */
export class MemoryPresence implements Presence {
  /** user -> lease member -> expiry */
  private readonly users = new Map<string, Map<string, number>>();

  constructor(private readonly timing: PresenceTiming) {}

  async connect(lease: Lease, now: number): Promise<boolean> {
    const wasOnline = this.isLive(lease.user, now);
    let leases = this.users.get(lease.user);
    if (!leases) this.users.set(lease.user, (leases = new Map()));
    leases.set(leaseMember(lease), now + this.timing.ttlMs);
    return !wasOnline;
  }

  async disconnect(lease: Lease, now: number): Promise<void> {
    const leases = this.users.get(lease.user);
    const m = leaseMember(lease);
    const exp = leases?.get(m);
    if (leases && exp !== undefined) leases.set(m, Math.min(exp, now + this.timing.graceMs));
  }

  async refresh(leases: readonly Lease[], now: number): Promise<void> {
    for (const l of leases) {
      let map = this.users.get(l.user);
      if (!map) this.users.set(l.user, (map = new Map()));
      map.set(leaseMember(l), now + this.timing.ttlMs);
    }
  }

  async reap(now: number): Promise<string[]> {
    const offline: string[] = [];
    for (const [user, leases] of this.users) {
      let removed = false;
      for (const [m, exp] of leases) {
        if (exp <= now) {
          leases.delete(m);
          removed = true;
        }
      }
      if (leases.size === 0) {
        this.users.delete(user);
        if (removed) offline.push(user);
      }
    }
    return offline;
  }

  async onlineAmong(users: readonly string[], now: number): Promise<Set<string>> {
    return new Set(users.filter((u) => this.isLive(u, now)));
  }

  async countLive(user: string, now: number, exceptDevice?: string): Promise<number> {
    let n = 0;
    for (const [member, exp] of this.users.get(user) ?? []) if (exp > now && member.split('|')[0] !== exceptDevice) n++;
    return n;
  }

  async close(): Promise<void> {}

  /** Looks without touching: expired leases are the reaper's to remove (it reports the offline). */
  private isLive(user: string, now: number): boolean {
    for (const exp of this.users.get(user)?.values() ?? []) if (exp > now) return true;
    return false;
  }
}
