import type { Cluster, Redis } from 'ioredis';
import type { RedisTarget } from '../config/redis-target.ts';
import { openRedis, redisUp } from '../util/redis-clients.ts';
import {
  deviceOf,
  LAST_SEEN_MS,
  leaseMember,
  packState,
  unpackState,
  type Joined,
  type Lease,
  type Presence,
  type PresenceState,
  type PresenceTiming,
  type Reaped,
  type UserPresence,
} from './presence.ts';

/**
 * Presence in Redis, shared by every node, on a single Redis or a Redis
 * Cluster alike. A user's keys share one hash tag, so they sit in one slot
 * and a script may touch them together:
 *   {prefix}:pres:{user}:l     sorted set: lease member (device|conn) -> expiry (ms)
 *   {prefix}:pres:{user}:s     hash: device -> state|type, while the user is online
 *   {prefix}:pres:{user}:seen  when the user last went offline (ms), kept LAST_SEEN_MS
 * The reaper's index is spread over INDEX_BUCKETS sorted sets, each its own
 * slot, of user|device|conn -> expiry:
 *   {prefix}:pres:leases:{n}
 * Whether a user came online, went offline, or lost a device is decided by
 * a script on that user's keys alone, so two nodes never both report the
 * same change. The index is only a way to find expired leases: a reaper
 * claims entries of a bucket (pushes their expiry CLAIM_MS ahead, so no
 * other reaper takes them), settles each user with one script, then
 * removes what it settled. A reaper that dies or times out between the
 * steps leaves its claims to expire and be taken again: offline comes late,
 * never twice and never lost.
 */
export const INDEX_BUCKETS = 16;
export const CLAIM_MS = 10_000;
const REAP_PER_BUCKET = 64;

// Looks at the live leases other than this one, so a retried connect (its first reply lost to a timeout) gives the same answer:
// 0 none (the user came online), 1 some but none of this device (a device joined), 2 another of this device.
const CONNECT = `
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[3], '+inf')
local device = string.sub(ARGV[1], 1, string.find(ARGV[1], '|', 1, true))
local joined = 0
for _, m in ipairs(live) do
  if m ~= ARGV[1] then
    if string.sub(m, 1, #device) == device then joined = 2 break end
    joined = 1
  end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return joined`;
const JOINED: readonly Joined[] = ['user', 'device', 'again'];

// Shortens a live lease to the grace period; one already shorter is left alone.
const DISCONNECT = `
local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if exp and tonumber(exp) > tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
return 0`;

// Takes up to ARGV[2] index entries due at ARGV[1] and moves them to ARGV[3], the claim's end.
const CLAIM = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], m) end
return due`;

// One user's claimed leases (ARGV[3..]) at ARGV[1]. A user whose last lease ends goes offline (states
// dropped, last-seen set); one that keeps other devices but loses every lease of one is thinned (that
// device's state dropped). Returns the fate (0 neither, 1 offline, 2 thinned) and the leases renewed
// since they were indexed, with their expiry, for the index.
const SETTLE = `
local now = tonumber(ARGV[1])
local fate, renewed = 0, {}
for i = 3, #ARGV do
  local member = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score and tonumber(score) > now then
    table.insert(renewed, member)
    table.insert(renewed, score)
  elseif score then
    redis.call('ZREM', KEYS[1], member)
    local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
    if #live == 0 then
      redis.call('DEL', KEYS[1], KEYS[2])
      redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
      fate = 1
    else
      local device = string.sub(member, 1, string.find(member, '|', 1, true))
      local still = false
      for _, other in ipairs(live) do
        if string.sub(other, 1, #device) == device then still = true break end
      end
      if not still then
        redis.call('HDEL', KEYS[2], string.sub(device, 1, #device - 1))
        if fate == 0 then fate = 2 end
      end
    end
  end
end
return {fate, renewed}`;

// Ends a pass's claims (ARGV[1] the claim's end): each entry (ARGV[i]) still as claimed is removed,
// or set to the lease's new expiry (ARGV[i+1], '' for none). One rewritten since (a refresh) is left.
const RELEASE = `
for i = 2, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[1]) then
    if ARGV[i + 1] == '' then redis.call('ZREM', KEYS[1], ARGV[i]) else redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i]) end
  end
end
return 0`;

/** The index bucket of a user: FNV-1a of its id, so every node puts a user in the same one. */
export function bucketOf(user: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < user.length; i++) h = Math.imul(h ^ user.charCodeAt(i), 0x01000193);
  return (h >>> 0) % INDEX_BUCKETS;
}

type Scripts = {
  presConnect(leases: string, member: string, exp: number, now: number, keepMs: number): Promise<number>;
  presDisconnect(leases: string, member: string, graceExp: number): Promise<number>;
  presClaim(bucket: string, now: number, limit: number, until: number): Promise<string[]>;
  presSettle(leases: string, states: string, seen: string, now: number, seenMs: number, ...members: string[]): Promise<[number, string[]]>;
  presRelease(bucket: string, until: number, ...pairs: string[]): Promise<number>;
};

export class RedisPresence implements Presence {
  private readonly redis: (Redis | Cluster) & Scripts;
  private readonly prefix: string;

  constructor(
    target: RedisTarget,
    prefix: string,
    private readonly timing: PresenceTiming,
    commandTimeoutMs: number,
  ) {
    // Auto-pipelining sends a turn's commands together (per shard on a cluster): a refresh of every
    // lease, or a describe of every contact, costs one round trip per shard, not one per key.
    const redis = openRedis(target, { name: 'relay-presence', commandTimeoutMs, autoPipelining: true });
    redis.defineCommand('presConnect', { numberOfKeys: 1, lua: CONNECT });
    redis.defineCommand('presDisconnect', { numberOfKeys: 1, lua: DISCONNECT });
    redis.defineCommand('presClaim', { numberOfKeys: 1, lua: CLAIM });
    redis.defineCommand('presSettle', { numberOfKeys: 3, lua: SETTLE });
    redis.defineCommand('presRelease', { numberOfKeys: 1, lua: RELEASE });
    this.redis = redis as (Redis | Cluster) & Scripts;
    this.prefix = `${prefix}:pres:`;
  }

  async connect(l: Lease, now: number): Promise<Joined> {
    const exp = now + this.timing.ttlMs;
    // Both in one round trip (the commands of a turn are pipelined). A connect fails if either write
    // does, and its caller retries; each refresh writes the index entry again besides.
    const [, joined] = await Promise.all([this.index(l, exp), this.redis.presConnect(this.leasesKey(l.user), leaseMember(l), exp, now, this.keepMs)]);
    return JOINED[joined]!;
  }

  async disconnect(l: Lease, now: number): Promise<void> {
    const exp = now + this.timing.graceMs;
    // LT: the index entry only moves earlier, as the lease does (or is added, if a reaper took it).
    await Promise.all([this.redis.zadd(this.bucketKey(l.user), 'LT', exp, this.indexMember(l)), this.redis.presDisconnect(this.leasesKey(l.user), leaseMember(l), exp)]);
  }

  async refresh(leases: readonly Lease[], now: number): Promise<void> {
    if (leases.length === 0) return;
    const exp = now + this.timing.ttlMs;
    const writes: Promise<unknown>[] = [];
    const buckets = new Set<string>();
    for (const l of leases) {
      writes.push(
        this.redis.zadd(this.bucketKey(l.user), exp, this.indexMember(l)),
        this.redis.zadd(this.leasesKey(l.user), exp, leaseMember(l)),
        this.redis.pexpire(this.leasesKey(l.user), this.keepMs),
        this.redis.pexpire(this.statesKey(l.user), this.keepMs),
      );
      buckets.add(this.bucketKey(l.user));
    }
    // The index is rewritten on every refresh; its expiry only removes a bucket once a whole cluster has gone quiet.
    for (const b of buckets) writes.push(this.redis.pexpire(b, this.keepMs));
    await Promise.all(writes);
  }

  async reap(now: number): Promise<Reaped> {
    const until = now + CLAIM_MS;
    const passes = await Promise.allSettled(Array.from({ length: INDEX_BUCKETS }, (_, n) => this.reapBucket(`${this.prefix}leases:{${n}}`, now, until)));
    const offline: string[] = [];
    const thinned: string[] = [];
    for (const r of passes) {
      if (r.status === 'rejected') continue;
      offline.push(...r.value.offline);
      thinned.push(...r.value.thinned);
    }
    // What one bucket settled is reported even when another failed: those users' keys are gone, and no
    // later pass would report them. A failed bucket keeps its claims, taken again once they end.
    const failed = passes.find((r) => r.status === 'rejected');
    if (failed && offline.length === 0 && thinned.length === 0) throw failed.reason;
    return { offline, thinned };
  }

  /** One bucket's part of a reaper pass: claim what is due, settle it user by user, release the claims. */
  private async reapBucket(bucket: string, now: number, until: number): Promise<Reaped> {
    const due = await this.redis.presClaim(bucket, now, REAP_PER_BUCKET, until);
    if (due.length === 0) return { offline: [], thinned: [] };
    const byUser = new Map<string, string[]>();
    for (const entry of due) {
      const sep = entry.indexOf('|');
      const user = entry.slice(0, sep);
      const members = byUser.get(user);
      if (members) members.push(entry.slice(sep + 1));
      else byUser.set(user, [entry.slice(sep + 1)]);
    }
    const offline: string[] = [];
    const thinned: string[] = [];
    const release: string[] = [];
    // A user whose settle fails keeps its claims (not released), so a pass after CLAIM_MS settles it.
    await Promise.allSettled(
      [...byUser].map(async ([user, members]) => {
        const [fate, renewed] = await this.redis.presSettle(this.leasesKey(user), this.statesKey(user), this.seenKey(user), now, LAST_SEEN_MS, ...members);
        if (fate === 1) offline.push(user);
        else if (fate === 2) thinned.push(user);
        const renewedAt = new Map<string, string>();
        for (let i = 0; i < renewed.length; i += 2) renewedAt.set(renewed[i]!, renewed[i + 1]!);
        for (const m of members) release.push(`${user}|${m}`, renewedAt.get(m) ?? '');
      }),
    );
    // A failed release only leaves claims that end by themselves; what was settled is reported anyway.
    if (release.length > 0) await this.redis.presRelease(bucket, until, ...release).catch(() => {});
    return { offline, thinned };
  }

  async onlineAmong(users: readonly string[], now: number): Promise<Set<string>> {
    const counts = await Promise.all(users.map((u) => this.redis.zcount(this.leasesKey(u), `(${now}`, '+inf')));
    return new Set(users.filter((_, i) => counts[i]! > 0));
  }

  async countLive(user: string, now: number, exceptDevice?: string): Promise<number> {
    const members = await this.redis.zrangebyscore(this.leasesKey(user), `(${now}`, '+inf');
    return members.filter((m) => deviceOf(m) !== exceptDevice).length;
  }

  async liveDevices(user: string, now: number): Promise<Set<string>> {
    const members = await this.redis.zrangebyscore(this.leasesKey(user), `(${now}`, '+inf');
    return new Set(members.map(deviceOf));
  }

  async setState(user: string, device: string, state: PresenceState, type: string | null): Promise<void> {
    const key = this.statesKey(user);
    await this.redis.multi().hset(key, device, packState(state, type)).pexpire(key, this.keepMs).exec();
  }

  async describe(users: readonly string[], now: number): Promise<Map<string, UserPresence>> {
    const read = (user: string) => Promise.all([this.redis.zrangebyscore(this.leasesKey(user), `(${now}`, '+inf'), this.redis.hgetall(this.statesKey(user)), this.redis.get(this.seenKey(user))]);
    const all = await Promise.all(users.map(read));
    const out = new Map<string, UserPresence>();
    users.forEach((user, i) => {
      const [members, states, seen] = all[i]!;
      const devices = [...new Set(members.map(deviceOf))].sort().map((device) => ({ device, ...unpackState(states[device]) }));
      out.set(user, { devices, lastSeen: devices.length === 0 && seen ? Number(seen) : undefined });
    });
    return out;
  }

  async ready(): Promise<void> {
    await redisUp(this.redis);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => {});
  }

  /** How long a user's keys outlive their last write: long enough that only a user gone quiet everywhere loses them. */
  private get keepMs(): number {
    return this.timing.ttlMs * 4;
  }

  private leasesKey(user: string): string {
    return `${this.prefix}{${user}}:l`;
  }

  private statesKey(user: string): string {
    return `${this.prefix}{${user}}:s`;
  }

  private seenKey(user: string): string {
    return `${this.prefix}{${user}}:seen`;
  }

  private bucketKey(user: string): string {
    return `${this.prefix}leases:{${bucketOf(user)}}`;
  }

  private indexMember(l: Lease): string {
    return `${l.user}|${leaseMember(l)}`;
  }

  private index(l: Lease, exp: number): Promise<unknown> {
    return Promise.all([this.redis.zadd(this.bucketKey(l.user), exp, this.indexMember(l)), this.redis.pexpire(this.bucketKey(l.user), this.keepMs)]);
  }
}
