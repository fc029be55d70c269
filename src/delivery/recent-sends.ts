import { hashKey, KeyRing } from '../util/key-ring.ts';

/**
 * Recently accepted sends, by sending device and message id, so a client
 * that retries a send (it lost the sent_ack) is answered without storing or
 * delivering the message again, even after its recipients acked and the
 * queue rows are gone. A retry that arrives while the first copy is still
 * being committed is counted, and answered when the first copy is.
 *
 * A retry is the same frame again: each send is remembered with a digest of
 * what it addressed (frameDigest: its kind, recipient and device set). A
 * frame under a used id with another digest is `reused`, never taken for a
 * retry: acking it would tell its sender that a message nobody stored had
 * been stored.
 *
 * Bounded in size and age: the latest `maxEntries` sends (fewer when their
 * keys average over 128 characters), for at most `ttlMs`. Past that, the
 * database's unique key still stores a retry once, and clients dedupe on
 * message_id.
 *
 * The keys and what is known of them live outside the JavaScript heap
 * (KeyRing and typed arrays), so remembering a send allocates nothing that
 * lives: only a pending send has an object, the record `begin` returns,
 * which dies with its settlement. Kept in a Map, each send's key, record
 * and table slot outlived the young generation (about 130 B per message
 * promoted at 10k msg/s, half of all the relay promoted), and the
 * collections that followed set its latency.
 */
export interface RecentSend {
  /** sent_acks owed when the pending send settles: the first copy and its retries. */
  owed: number;
  /** Its entry in the ring, or -1 when it could not be remembered. */
  readonly entry: number;
  readonly stamp: number;
}

export class RecentSends {
  private readonly keys: KeyRing;
  private readonly epoch: number;
  /** When each entry's send began, in ms since `epoch`. */
  private readonly began: Float64Array;
  private readonly done: Uint8Array;
  /** Each entry's frameDigest. */
  private readonly digests: Uint32Array;
  /** A pending entry's record, where its retries are counted. */
  private readonly pending: (RecentSend | undefined)[];

  constructor(
    private readonly now: () => number,
    maxEntries = 100_000,
    private readonly ttlMs = 10 * 60_000,
  ) {
    this.keys = new KeyRing(maxEntries);
    // Resident from the start, as the key ring's memory is (key-ring.ts).
    this.began = new Float64Array(maxEntries).fill(0);
    this.done = new Uint8Array(maxEntries).fill(0);
    this.digests = new Uint32Array(maxEntries).fill(0);
    this.pending = new Array<RecentSend | undefined>(maxEntries).fill(undefined);
    this.epoch = now();
  }

  /**
   * The first part of a device's keys, made once per connection: a key is
   * this prefix and the message id joined. Every part is an id (ASCII, see
   * fields.ts), so every key fits the ring's one byte per character.
   */
  static prefix(user: string, device: string): string {
    return [user, device, ''].join('\u0000');
  }

  /**
   * Looks a send up: 'new' (never seen), 'done' (answer with a sent_ack now),
   * 'pending' (counted; the first copy's settlement answers it), or 'reused'
   * (the id was used for a frame with another digest; nothing is counted).
   */
  check(key: string, digest = 0): 'new' | 'done' | 'pending' | 'reused' {
    const e = this.keys.find(key);
    if (e < 0) return 'new';
    if (this.expired(e)) {
      this.keys.remove(e);
      return 'new';
    }
    if (this.digests[e] !== digest >>> 0) return 'reused';
    if (this.done[e] === 1) return 'done';
    this.pending[e]!.owed++;
    return 'pending';
  }

  /** Whether `check` would find the send (pending or done), without counting it as a retry or forgetting an expired one. */
  known(key: string): boolean {
    const e = this.keys.find(key);
    return e >= 0 && !this.expired(e);
  }

  /** Remembers a new send as pending; the record it returns is what `settle` takes, so settling needs no second lookup. */
  begin(key: string, digest = 0): RecentSend {
    const entry = this.keys.add(key);
    const rec: RecentSend = { owed: 1, entry, stamp: entry < 0 ? -1 : this.keys.stamp(entry) };
    if (entry >= 0) {
      this.began[entry] = this.now() - this.epoch;
      this.done[entry] = 0;
      this.digests[entry] = digest >>> 0;
      this.pending[entry] = rec;
    }
    return rec;
  }

  /**
   * Marks the send settled; returns how many answers it owes (1 plus retries
   * that came meanwhile). A failed send is forgotten, so its retry is stored
   * (unless its entry already left the ring: a newer send of the same key
   * may be there now, and stays).
   */
  settle(rec: RecentSend, ok: boolean): number {
    const owed = rec.owed;
    rec.owed = 0;
    if (!this.keys.holds(rec.entry, rec.stamp)) return owed;
    this.pending[rec.entry] = undefined;
    if (ok) this.done[rec.entry] = 1;
    else this.keys.remove(rec.entry);
    return owed;
  }

  /** How many sends are remembered. */
  get size(): number {
    return this.keys.size;
  }

  private expired(e: number): boolean {
    return this.now() - this.epoch - this.began[e]! > this.ttlMs;
  }
}

/** Seed of frame digests: fixed, since a digest is compared only with digests made by this process. */
const DIGEST_SEED = 0x2f6b_1a3d;

/**
 * What a stored frame addressed, as 32 bits: its kind, its recipient user,
 * and its set of recipient devices in any order (each device's hash is
 * added, so a retry that lists them in another order is the same frame).
 * The ciphertext is left out: a client may encrypt a retry anew.
 */
export function frameDigest(kind: string, to: string, devices: readonly string[]): number {
  let d = hashKey(`${kind}\u0000${to}`, DIGEST_SEED);
  for (const device of devices) d = (d + hashKey(device, DIGEST_SEED)) >>> 0;
  return d;
}
