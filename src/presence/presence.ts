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

export interface Presence {
  /**
   * Starts (or renews) a lease; true when the user has no other live lease
   * (they just came online). Repeating it for the same lease gives the same
   * answer, so a call whose reply was lost can be retried.
   */
  connect(lease: Lease, now: number): Promise<boolean>;
  /** Shortens the lease to the grace period. */
  disconnect(lease: Lease, now: number): Promise<void>;
  /** Extends the leases of connections still open on this node. */
  refresh(leases: readonly Lease[], now: number): Promise<void>;
  /** Ends expired leases; returns users whose last lease just ended (now offline). Each is returned once, by one caller. */
  reap(now: number): Promise<string[]>;
  /** Which of these users have a live lease. */
  onlineAmong(users: readonly string[], now: number): Promise<Set<string>>;
  /** How many live leases a user holds, not counting those of `exceptDevice`. */
  countLive(user: string, now: number, exceptDevice?: string): Promise<number>;
  /** The devices of a user that hold a live lease. */
  liveDevices(user: string, now: number): Promise<Set<string>>;
  close(): Promise<void>;
}

export interface PresenceTiming {
  ttlMs: number;
  graceMs: number;
}

export const leaseMember = (l: Lease): string => `${l.device}|${l.conn}`;
