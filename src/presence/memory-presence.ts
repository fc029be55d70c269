import { leaseMember, type Lease, type Presence, type PresenceTiming } from './presence.ts';

/**
 * Presence in this process, for a single node (no REDIS_URL). Same rules
 * as the Redis version; the shared contract test holds both to them.
 */
export class MemoryPresence implements Presence {
  /** user -> its leases (member, expiry); a short array, as a user has a handful of devices */
  private readonly users = new Map<string, { member: string; exp: number }[]>();

  constructor(private readonly timing: PresenceTiming) {}

  async connect(lease: Lease, now: number): Promise<boolean> {
    const wasOnline = this.isLive(lease.user, now, leaseMember(lease));
    this.set(lease, now + this.timing.ttlMs);
    return !wasOnline;
  }

  async disconnect(lease: Lease, now: number): Promise<void> {
    const m = leaseMember(lease);
    const held = this.users.get(lease.user)?.find((l) => l.member === m);
    if (held) held.exp = Math.min(held.exp, now + this.timing.graceMs);
  }

  async refresh(leases: readonly Lease[], now: number): Promise<void> {
    for (const l of leases) this.set(l, now + this.timing.ttlMs);
  }

  async reap(now: number): Promise<string[]> {
    const offline: string[] = [];
    for (const [user, leases] of this.users) {
      if (!leases.some((l) => l.exp <= now)) continue;
      const live = leases.filter((l) => l.exp > now);
      this.users.set(user, live);
      if (live.length === 0) {
        this.users.delete(user);
        offline.push(user);
      }
    }
    return offline;
  }

  async onlineAmong(users: readonly string[], now: number): Promise<Set<string>> {
    return new Set(users.filter((u) => this.isLive(u, now)));
  }

  async countLive(user: string, now: number, exceptDevice?: string): Promise<number> {
    let n = 0;
    for (const { member, exp } of this.users.get(user) ?? []) if (exp > now && member.split('|')[0] !== exceptDevice) n++;
    return n;
  }

  async liveDevices(user: string, now: number): Promise<Set<string>> {
    const devices = new Set<string>();
    for (const { member, exp } of this.users.get(user) ?? []) if (exp > now) devices.add(member.split('|')[0]!);
    return devices;
  }

  async close(): Promise<void> {}

  /** Looks without touching: expired leases are the reaper's to remove (it reports the offline). */
  private isLive(user: string, now: number, exceptMember?: string): boolean {
    for (const l of this.users.get(user) ?? []) if (l.exp > now && l.member !== exceptMember) return true;
    return false;
  }

  private set(lease: Lease, exp: number): void {
    const m = leaseMember(lease);
    const leases = this.users.get(lease.user);
    const held = leases?.find((l) => l.member === m);
    if (held) held.exp = exp;
    else if (leases) leases.push({ member: m, exp });
    else this.users.set(lease.user, [{ member: m, exp }]);
  }
}
