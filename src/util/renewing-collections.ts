/**
 * Map and Set for long-lived indexes of short-lived values (queue entries
 * waiting for an ack, say), which rebuild their hash table after enough
 * deletes.
 *
 * Why: V8 grows and shrinks a Map's table by allocating a new one, and it
 * allocates it in the old generation when the table it replaces is there.
 * Once an index has lived through two scavenges, every later table is old.
 * The young values written into an old table then survive scavenges after
 * their delete (most likely through the replaced tables, which still point
 * at them until a full collection): each is copied, then promoted, and
 * dies in the old generation. Measured in the relay at 10k msg/s: about
 * 1.7 MB promoted per scavenge (about 1.3 KB per message, 99% of what the
 * scavenge before had kept) and scavenges of 7 ms, with pretenuring off
 * (gc-tuning.ts); with these collections as well, 0.26 MB and 2.1 ms. In
 * a bare loop, an old Set holding 20 live entries of 0.4 KB promoted every
 * entry and ran 2.7 times slower than the same Set created young.
 *
 * A table copied into a fresh collection starts in the young generation
 * again. The copy happens once deletes since the last one outnumber twice
 * the live entries (plus a floor), so it costs O(1) per delete amortised;
 * under steady traffic the table is replaced long before two scavenges
 * can age it. The copy keeps insertion order, as Map and Set define it.
 *
 * The copy is made at the next insert, never inside `delete`: a caller may
 * delete while iterating, and its iterator must keep walking one table.
 * Unlike Map and Set, an iterator that is running when an insert starts a
 * new table does not see that insert (none of the relay's loops inserts).
 */
const FLOOR = 32;

export class RenewingMap<K, V> {
  private map = new Map<K, V>();
  private deletes = 0;

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): this {
    if (this.deletes > 2 * this.map.size + FLOOR) {
      this.map = new Map(this.map);
      this.deletes = 0;
    }
    this.map.set(key, value);
    return this;
  }

  delete(key: K): boolean {
    if (!this.map.delete(key)) return false;
    this.deletes++;
    return true;
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }
}

/** A RenewingMap from each value to itself: the same renewal, with Set's methods. */
export class RenewingSet<T> {
  private readonly map = new RenewingMap<T, T>();

  get size(): number {
    return this.map.size;
  }

  has(value: T): boolean {
    return this.map.has(value);
  }

  add(value: T): this {
    this.map.set(value, value);
    return this;
  }

  delete(value: T): boolean {
    return this.map.delete(value);
  }

  values(): IterableIterator<T> {
    return this.map.keys();
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.map.keys();
  }
}
