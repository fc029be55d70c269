import { GenerationalMap } from '../util/generational-map.ts';
import { deviceOf, LAST_SEEN_MS, leaseMember, type Joined, type Lease, type LiveDevice, type Presence, type PresenceState, type PresenceTiming, type Reaped, type UserPresence } from './presence.ts';

/**
 * Presence in this process, for a single node (no REDIS_URL). Same rules
 * as the Redis version; the shared contract test holds both to them.
 */
export class MemoryPresence implements Presence {
  /** user -> its leases (member, expiry); a short array, as a user has a handful of devices */
  private readonly users = new Map<string, { member: string; exp: number }[]>();
  /** user -> device -> the state it set and its type; dropped when the user goes offline */
  private readonly states = new Map<string, Map<string, { state: PresenceState; type: string | null }>>();
  /** user -> when they last went offline; the latest users only, as the Redis version keeps it for LAST_SEEN_MS */
  private readonly seen = new GenerationalMap<string, number>(200_000);

  constructor(private readonly timing: PresenceTiming) {}

  async connect(lease: Lease, now: number): Promise<Joined> {
    const own = leaseMember(lease);
    let joined: Joined = 'user';
    for (const { member, exp } of this.users.get(lease.user) ?? []) {
      if (exp <= now || member === own) continue;
      if (deviceOf(member) === lease.device) {
        joined = 'again';
        break;
      }
      joined = 'device';
    }
    this.set(lease, now + this.timing.ttlMs);
    return joined;
  }

  async disconnect(lease: Lease, now: number): Promise<void> {
    const m = leaseMember(lease);
    const held = this.users.get(lease.user)?.find((l) => l.member === m);
    if (held) held.exp = Math.min(held.exp, now + this.timing.graceMs);
  }

  async refresh(leases: readonly Lease[], now: number): Promise<void> {
    for (const l of leases) this.set(l, now + this.timing.ttlMs);
  }

  async reap(now: number): Promise<Reaped> {
    const reaped: Reaped = { offline: [], thinned: [] };
    for (const [user, leases] of this.users) {
      if (!leases.some((l) => l.exp <= now)) continue;
      const live = leases.filter((l) => l.exp > now);
      this.users.set(user, live);
      if (live.length === 0) {
        this.users.delete(user);
        this.states.delete(user);
        this.seen.set(user, now);
        reaped.offline.push(user);
        continue;
      }
      const devicesAfter = new Set(live.map((l) => deviceOf(l.member)));
      const gone = new Set(leases.map((l) => deviceOf(l.member)).filter((d) => !devicesAfter.has(d)));
      for (const d of gone) this.states.get(user)?.delete(d);
      if (gone.size > 0) reaped.thinned.push(user);
    }
    return reaped;
  }

  async onlineAmong(users: readonly string[], now: number): Promise<Set<string>> {
    return new Set(users.filter((u) => this.isLive(u, now)));
  }

  async countLive(user: string, now: number, exceptDevice?: string): Promise<number> {
    let n = 0;
    for (const { member, exp } of this.users.get(user) ?? []) if (exp > now && deviceOf(member) !== exceptDevice) n++;
    return n;
  }

  async liveDevices(user: string, now: number): Promise<Set<string>> {
    const devices = new Set<string>();
    for (const { member, exp } of this.users.get(user) ?? []) if (exp > now) devices.add(deviceOf(member));
    return devices;
  }

  async setState(user: string, device: string, state: PresenceState, type: string | null): Promise<void> {
    let mine = this.states.get(user);
    if (!mine) this.states.set(user, (mine = new Map()));
    mine.set(device, { state, type });
  }

  async describe(users: readonly string[], now: number): Promise<Map<string, UserPresence>> {
    const out = new Map<string, UserPresence>();
    for (const user of users) {
      const live = await this.liveDevices(user, now);
      const states = this.states.get(user);
      const devices: LiveDevice[] = [...live].sort().map((device) => ({ device, state: states?.get(device)?.state ?? 'online', type: states?.get(device)?.type ?? null }));
      const seenAt = devices.length === 0 ? this.seen.get(user) : undefined;
      out.set(user, { devices, lastSeen: seenAt !== undefined && now - seenAt < LAST_SEEN_MS ? seenAt : undefined });
    }
    return out;
  }

  async close(): Promise<void> {}

  /** Looks without touching: expired leases are the reaper's to remove (it reports the offline). */
  private isLive(user: string, now: number): boolean {
    for (const l of this.users.get(user) ?? []) if (l.exp > now) return true;
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
