import { Redis } from 'ioredis';
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
 * Presence in Redis, shared by every node.
 *   {prefix}:pres:u:{user}   sorted set: lease member (device|conn) -> expiry (ms)
 *   {prefix}:pres:leases     sorted set: user|device|conn -> expiry, the reaper's index
 *   {prefix}:pres:s:{user}   hash: device -> state|type, while the user is online
 *   {prefix}:pres:seen:{user} when the user last went offline (ms), kept LAST_SEEN_MS
 * Transitions that must be atomic (was the user online? is this the last
 * lease?) run as Lua scripts, so two nodes never both report the same
 * user coming online or going offline. The scripts touch keys they derive
 * from the prefix, which is fine on a single Redis (not Redis Cluster).
 */
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
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return joined`;
const JOINED: readonly Joined[] = ['user', 'device', 'again'];

const DISCONNECT = `
local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if exp and tonumber(exp) > tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
end
return 0`;

// A user whose last lease ends goes offline (its states dropped, its last-seen set); one that keeps
// other devices but loses every lease of one is "thinned" (that device's state dropped).
const REAP = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local offline, thinned, seen = {}, {}, {}
for _, m in ipairs(expired) do
  redis.call('ZREM', KEYS[1], m)
  local sep = string.find(m, '|', 1, true)
  local user = string.sub(m, 1, sep - 1)
  local member = string.sub(m, sep + 1)
  local key = ARGV[3] .. user
  local score = redis.call('ZSCORE', key, member)
  if score and tonumber(score) > tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], score, m)
  elseif score then
    redis.call('ZREM', key, member)
    local live = redis.call('ZRANGEBYSCORE', key, '(' .. ARGV[1], '+inf')
    if #live == 0 then
      redis.call('DEL', key, ARGV[4] .. user)
      redis.call('SET', ARGV[5] .. user, ARGV[1], 'PX', ARGV[6])
      table.insert(offline, user)
    else
      local device = string.sub(member, 1, string.find(member, '|', 1, true))
      local still = false
      for _, other in ipairs(live) do
        if string.sub(other, 1, #device) == device then still = true break end
      end
      if not still then
        redis.call('HDEL', ARGV[4] .. user, string.sub(device, 1, #device - 1))
        if not seen[user] then seen[user] = true table.insert(thinned, user) end
      end
    end
  end
end
return {offline, thinned}`;

export class RedisPresence implements Presence {
  private readonly redis: Redis;
  private readonly userPrefix: string;
  private readonly index: string;
  private readonly statePrefix: string;
  private readonly seenPrefix: string;

  constructor(
    url: string,
    prefix: string,
    private readonly timing: PresenceTiming,
    commandTimeoutMs: number,
  ) {
    this.redis = new Redis(url, {
      commandTimeout: commandTimeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: true,
      retryStrategy: (n) => Math.min(50 * 2 ** Math.min(n, 6), 2000),
    });
    this.redis.on('error', () => {});
    this.userPrefix = `${prefix}:pres:u:`;
    this.index = `${prefix}:pres:leases`;
    this.statePrefix = `${prefix}:pres:s:`;
    this.seenPrefix = `${prefix}:pres:seen:`;
    this.redis.defineCommand('presConnect', { numberOfKeys: 2, lua: CONNECT });
    this.redis.defineCommand('presDisconnect', { numberOfKeys: 2, lua: DISCONNECT });
    this.redis.defineCommand('presReap', { numberOfKeys: 1, lua: REAP });
  }

  async connect(l: Lease, now: number): Promise<Joined> {
    const joined = (await this.call('presConnect', this.userKey(l.user), this.index, leaseMember(l), now + this.timing.ttlMs, now, this.indexMember(l), this.timing.ttlMs * 4)) as number;
    return JOINED[joined]!;
  }

  async disconnect(l: Lease, now: number): Promise<void> {
    await this.call('presDisconnect', this.userKey(l.user), this.index, leaseMember(l), now + this.timing.graceMs, this.indexMember(l));
  }

  async refresh(leases: readonly Lease[], now: number): Promise<void> {
    if (leases.length === 0) return;
    const exp = now + this.timing.ttlMs;
    const p = this.redis.pipeline();
    for (const l of leases) {
      p.zadd(this.userKey(l.user), exp, leaseMember(l));
      p.pexpire(this.userKey(l.user), this.timing.ttlMs * 4);
      p.pexpire(this.statePrefix + l.user, this.timing.ttlMs * 4);
      p.zadd(this.index, exp, this.indexMember(l));
    }
    // The index is rewritten on every refresh; the expiry only removes it once a whole cluster has gone quiet.
    p.pexpire(this.index, this.timing.ttlMs * 4);
    await p.exec();
  }

  async reap(now: number): Promise<Reaped> {
    const [offline, thinned] = (await this.call('presReap', this.index, now, 500, this.userPrefix, this.statePrefix, this.seenPrefix, LAST_SEEN_MS)) as [string[], string[]];
    // A user thinned and then gone in the same pass is only offline.
    return { offline, thinned: thinned.filter((u) => !offline.includes(u)) };
  }

  async onlineAmong(users: readonly string[], now: number): Promise<Set<string>> {
    if (users.length === 0) return new Set();
    const p = this.redis.pipeline();
    for (const u of users) p.zcount(this.userKey(u), `(${now}`, '+inf');
    const res = (await p.exec()) ?? [];
    return new Set(users.filter((_, i) => Number(res[i]?.[1] ?? 0) > 0));
  }

  async countLive(user: string, now: number, exceptDevice?: string): Promise<number> {
    const members = await this.redis.zrangebyscore(this.userKey(user), `(${now}`, '+inf');
    return members.filter((m) => deviceOf(m) !== exceptDevice).length;
  }

  async liveDevices(user: string, now: number): Promise<Set<string>> {
    const members = await this.redis.zrangebyscore(this.userKey(user), `(${now}`, '+inf');
    return new Set(members.map(deviceOf));
  }

  async setState(user: string, device: string, state: PresenceState, type: string | null): Promise<void> {
    const key = this.statePrefix + user;
    await this.redis
      .multi()
      .hset(key, device, packState(state, type))
      .pexpire(key, this.timing.ttlMs * 4)
      .exec();
  }

  async describe(users: readonly string[], now: number): Promise<Map<string, UserPresence>> {
    const out = new Map<string, UserPresence>();
    if (users.length === 0) return out;
    const p = this.redis.pipeline();
    for (const u of users) {
      p.zrangebyscore(this.userKey(u), `(${now}`, '+inf');
      p.hgetall(this.statePrefix + u);
    }
    p.mget(users.map((u) => this.seenPrefix + u));
    const res = (await p.exec()) ?? [];
    const seen = (res[users.length * 2]?.[1] ?? []) as (string | null)[];
    users.forEach((user, i) => {
      const members = (res[i * 2]?.[1] ?? []) as string[];
      const states = (res[i * 2 + 1]?.[1] ?? {}) as Record<string, string>;
      const devices = [...new Set(members.map(deviceOf))].sort().map((device) => ({ device, ...unpackState(states[device]) }));
      const seenAt = devices.length === 0 && seen[i] ? Number(seen[i]) : undefined;
      out.set(user, { devices, lastSeen: seenAt });
    });
    return out;
  }

  async ready(): Promise<void> {
    if (this.redis.status !== 'ready') await new Promise<void>((resolve) => this.redis.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => {});
  }

  private userKey(user: string): string {
    return this.userPrefix + user;
  }

  private indexMember(l: Lease): string {
    return `${l.user}|${leaseMember(l)}`;
  }

  private call(name: string, ...args: (string | number)[]): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name];
    if (!fn) throw new Error(`unknown script ${name}`);
    return fn.apply(this.redis, args);
  }
}
