/**
 * Who is online, cluster-wide. Each connection holds a lease with an
 * expiry; a user is online while any of their leases is live. Leases are
 * refreshed by the node holding the connection, so a node that dies stops
 * refreshing and its users go offline within the TTL, found by any node's
 * reaper.
 *
 * A disconnect does not end the lease at once: it shortens it to a grace
 * period, so a device that reconnects within it (a network switch, an app
 * restart) never shows as offline and back.
 */
export interface Lease {
  user: string;
  device: string;
  /** Unique per connection, so one connection's end never shortens another's lease for the same device. */
  conn: string;
}

/** What a device tells its contacts about itself; a device that said nothing since it connected is `online`. */
export const presenceStates = ['online', 'away', 'busy'] as const;
export type PresenceState = (typeof presenceStates)[number];

/** A device holding a live lease, with the state it set and the type it registered with. */
export interface LiveDevice {
  device: string;
  state: PresenceState;
  type: string | null;
}

/** A user as contacts see it: the live devices (none when offline) and, when offline, since when if known. */
export interface UserPresence {
  devices: LiveDevice[];
  lastSeen: number | undefined;
}

/** What a reaper pass ended. */
export interface Reaped {
  /** Users whose last lease ended: now offline. */
  offline: string[];
  /** Users still online who lost every lease of some device: their device list shrank. */
  thinned: string[];
}

/**
 * What a new lease changed, as its contacts see it: the user came online
 * (no other live lease), or a device of a user online already did (no
 * other live lease of that device), or nothing (`again`: another
 * connection of the device holds a lease).
 */
export type Joined = 'user' | 'device' | 'again';

export interface Presence {
  /**
   * Starts (or renews) a lease, and says what it changed (Joined), in one
   * round trip. Repeating it for the same lease gives the same answer (the
   * lease itself is left out of the count), so a call whose reply was lost
   * can be retried.
   */
  connect(lease: Lease, now: number): Promise<Joined>;
  /** Shortens the lease to the grace period. */
  disconnect(lease: Lease, now: number): Promise<void>;
  /** Extends the leases of connections still open on this node. */
  refresh(leases: readonly Lease[], now: number): Promise<void>;
  /**
   * Ends expired leases. Each user gone offline, or thinned, is returned
   * once, by one caller; going offline records the user's last-seen time.
   */
  reap(now: number): Promise<Reaped>;
  /** Which of these users have a live lease. */
  onlineAmong(users: readonly string[], now: number): Promise<Set<string>>;
  /** How many live leases a user holds, not counting those of `exceptDevice`. */
  countLive(user: string, now: number, exceptDevice?: string): Promise<number>;
  /** The devices of a user that hold a live lease. */
  liveDevices(user: string, now: number): Promise<Set<string>>;
  /** Records a device's state and type; kept while its user is online, and set again at each connect. */
  setState(user: string, device: string, state: PresenceState, type: string | null, now: number): Promise<void>;
  /** Each user's live devices with their states, and the last-seen time of those offline (kept `LAST_SEEN_MS`). */
  describe(users: readonly string[], now: number): Promise<Map<string, UserPresence>>;
  close(): Promise<void>;
}

export interface PresenceTiming {
  ttlMs: number;
  graceMs: number;
}

export const leaseMember = (l: Lease): string => `${l.device}|${l.conn}`;

/** The device of a lease member (leaseMember's first part). */
export const deviceOf = (member: string): string => member.slice(0, member.indexOf('|'));

/** How long a user's last-seen time is kept after they go offline. */
export const LAST_SEEN_MS = 30 * 24 * 3600 * 1000;

/**
 * The one status contacts see for a user: `busy` if any live device says
 * so (a do-not-disturb set on one device holds for the person), else
 * `online` if any device is active, else `away`; `offline` with none.
 */
export function userStatus(devices: readonly LiveDevice[]): PresenceState | 'offline' {
  if (devices.length === 0) return 'offline';
  if (devices.some((d) => d.state === 'busy')) return 'busy';
  return devices.some((d) => d.state === 'online') ? 'online' : 'away';
}

/** A state and device type in one stored string: the state first, as it never holds '|'. */
export const packState = (state: PresenceState, type: string | null): string => `${state}|${type ?? ''}`;

export function unpackState(packed: string | undefined): { state: PresenceState; type: string | null } {
  if (!packed) return { state: 'online', type: null };
  const bar = packed.indexOf('|');
  const state = (bar === -1 ? packed : packed.slice(0, bar)) as PresenceState;
  const type = bar === -1 ? '' : packed.slice(bar + 1);
  return { state: presenceStates.includes(state) ? state : 'online', type: type === '' ? null : type };
}
