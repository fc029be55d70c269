import { randomInt } from 'node:crypto';

const EMPTY = -1;
/**
 * The furthest an entry may sit from its home slot. A key that would land
 * further is not remembered, so a lookup never walks more than this many
 * slots, whatever keys a client chose (at a load of at most one half, a
 * random key lands this far once in far more inserts than a ring sees).
 */
export const MAX_PROBE = 64;

/**
 * A set of the latest string keys, kept outside the JavaScript heap: keys
 * live as bytes in one ring buffer, and a linear-probing table of entry
 * numbers in a typed array finds them. A caller keeps what it knows of each
 * key in its own arrays, indexed by entry number.
 *
 * Why: a Map that remembers every key of the last few seconds holds each
 * key string, its table slot and its value long enough for the collector
 * to copy them and then promote them, at tens of thousands of keys a
 * second; the full collections that follow pause the event loop. Here an
 * insert allocates nothing, and a collection has nothing of it to trace.
 *
 * What is guaranteed:
 * - The newest `capacity` keys are kept, fewer when keys are long: the ring
 *   holds `capacity * bytesPerKey` bytes, and the oldest keys leave first
 *   (by count or by bytes, whichever runs out).
 * - Its memory is all resident from construction, and stays the same size.
 * - A key is found exactly (its bytes are compared), never by its hash.
 * - A key that cannot be kept (a character above U+00FF, longer than
 *   `bytesPerKey * 4`, or too far from its home slot) is simply not
 *   remembered: `add` returns -1. The caller must treat that as "seen
 *   nowhere", which is what it means for a key that has aged out.
 * - The hash is seeded per ring, so which keys share slots cannot be known
 *   in advance.
 */
export class KeyRing {
  readonly capacity: number;
  /** Entries in insertion order, a ring: [head, head + count). Removed entries stay in it (dead) until they reach the head. */
  private head = 0;
  private count = 0;
  private liveCount = 0;
  private readonly hashes: Uint32Array;
  /** Each entry's first byte, as a position in an endless byte stream (the ring holds the last `bytes.length` of it); unique per insert. */
  private readonly starts: Float64Array;
  private readonly lengths: Uint16Array;
  private readonly live: Uint8Array;
  private readonly bytes: Uint8Array;
  private end = 0;
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly seed: number;
  private readonly maxKeyLength: number;

  constructor(capacity: number, bytesPerKey = 128, seed = randomInt(2 ** 32 - 1)) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
    // Every array is written through once here, so the ring's memory is resident from the start. Keys are written
    // one after another through the whole buffer, and most are far shorter than bytesPerKey, so a ring left
    // untouched took its pages over hours (1.4 million keys for a 32 MB ring): resident memory crept
    // up like a leak (the soak's 37-68 MiB/h) until the ring wrapped, though nothing grew.
    this.hashes = new Uint32Array(capacity).fill(0);
    this.starts = new Float64Array(capacity).fill(0);
    this.lengths = new Uint16Array(capacity).fill(0);
    this.live = new Uint8Array(capacity).fill(0);
    this.bytes = new Uint8Array(capacity * bytesPerKey).fill(0);
    this.maxKeyLength = Math.min(bytesPerKey * 4, this.bytes.length, 0xffff);
    // At most half full: a miss, the common lookup, then ends within a slot or two.
    const size = 2 ** Math.ceil(Math.log2(capacity * 2));
    this.slots = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
    this.seed = seed | 0;
  }

  /** How many keys are kept. */
  get size(): number {
    return this.liveCount;
  }

  /** The key's entry number, or -1. */
  find(key: string): number {
    const h = hashKey(key, this.seed);
    if (h < 0) return EMPTY;
    const slot = this.slotOf(key, h);
    return slot === EMPTY ? EMPTY : this.slots[slot]!;
  }

  /**
   * Keeps the key as the newest (replacing it if kept already) and returns
   * its entry number, or -1 when it cannot be kept. May drop the oldest keys
   * to make room.
   */
  add(key: string): number {
    const h = hashKey(key, this.seed);
    if (h < 0 || key.length > this.maxKeyLength) return EMPTY;
    const old = this.slotOf(key, h);
    if (old !== EMPTY) this.removeAt(old);
    if (this.count === this.capacity) this.dropOldest();
    const ringBytes = this.bytes.length;
    // Every insert takes a byte at least, so that starts (the stamps) never repeat, even for empty keys.
    const span = Math.max(1, key.length);
    let start = this.end;
    // A key is never split across the ring's end: skip to its start.
    if ((start % ringBytes) + span > ringBytes) start += ringBytes - (start % ringBytes);
    while (this.count > 0 && start + span - this.starts[this.head]! > ringBytes) this.dropOldest();
    const slot = this.freeSlot(h);
    if (slot === EMPTY) return EMPTY;
    const e = (this.head + this.count) % this.capacity;
    this.count++;
    this.liveCount++;
    const at = start % ringBytes;
    for (let i = 0; i < key.length; i++) this.bytes[at + i] = key.charCodeAt(i);
    this.hashes[e] = h;
    this.starts[e] = start;
    this.lengths[e] = key.length;
    this.live[e] = 1;
    this.slots[slot] = e;
    this.end = start + span;
    return e;
  }

  /** A number that names this insert of the entry alone: an entry number is reused once its key leaves. */
  stamp(entry: number): number {
    return this.starts[entry]!;
  }

  /** Whether the entry still holds the key inserted with this stamp. */
  holds(entry: number, stamp: number): boolean {
    return entry >= 0 && this.live[entry] === 1 && this.starts[entry] === stamp;
  }

  /** Forgets the entry's key (a no-op for an entry that is not live). */
  remove(entry: number): void {
    if (this.live[entry] !== 1) return;
    const h = this.hashes[entry]!;
    for (let s = h & this.mask, d = 0; d < MAX_PROBE; d++, s = (s + 1) & this.mask) {
      if (this.slots[s] === entry) {
        this.removeAt(s);
        return;
      }
    }
  }

  private dropOldest(): void {
    this.remove(this.head);
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }

  /** The slot holding the key, or -1. */
  private slotOf(key: string, h: number): number {
    for (let s = h & this.mask, d = 0; d < MAX_PROBE; d++, s = (s + 1) & this.mask) {
      const e = this.slots[s]!;
      if (e === EMPTY) return EMPTY;
      if (this.hashes[e] === h && this.lengths[e] === key.length && this.same(e, key)) return s;
    }
    return EMPTY;
  }

  private freeSlot(h: number): number {
    for (let s = h & this.mask, d = 0; d < MAX_PROBE; d++, s = (s + 1) & this.mask) {
      if (this.slots[s] === EMPTY) return s;
    }
    return EMPTY;
  }

  private same(e: number, key: string): boolean {
    const at = this.starts[e]! % this.bytes.length;
    for (let i = 0; i < key.length; i++) if (this.bytes[at + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  /**
   * Empties a slot and moves later entries of its run back (backward-shift
   * deletion: no tombstones, and an entry only ever moves nearer its home,
   * so none ends up further than MAX_PROBE from it).
   */
  private removeAt(slot: number): void {
    const mask = this.mask;
    this.live[this.slots[slot]!] = 0;
    this.liveCount--;
    let hole = slot;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const e = this.slots[j]!;
      if (e === EMPTY) break;
      const home = this.hashes[e]! & mask;
      // e may fill the hole when its home is not between the hole and j.
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        this.slots[hole] = e;
        hole = j;
      }
    }
    this.slots[hole] = EMPTY;
  }
}

/**
 * A seeded FNV-1a over the key's characters, mixed at the end (murmur3's
 * finaliser), as an unsigned 32-bit number; -1 for a key with a character
 * above U+00FF, which a ring cannot hold.
 */
export function hashKey(key: string, seed: number): number {
  let h = seed | 0;
  let wide = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    wide |= c;
    h = Math.imul(h ^ c, 0x01000193);
  }
  if (wide > 0xff) return EMPTY;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
