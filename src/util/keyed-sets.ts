import { RenewingMap } from './renewing-collections.ts';

/**
 * A map from keys to sets that drops a key when its set empties, so an
 * index over many short-lived entries never keeps empty sets behind.
 * Sets keep insertion order.
 */
export class KeyedSets<K, V> {
  private readonly map = new RenewingMap<K, Set<V>>();

  add(key: K, value: V): void {
    let set = this.map.get(key);
    if (!set) this.map.set(key, (set = new Set()));
    set.add(value);
  }

  /** Removes one value; true when it was there. */
  delete(key: K, value: V): boolean {
    const set = this.map.get(key);
    if (!set?.delete(value)) return false;
    if (set.size === 0) this.map.delete(key);
    return true;
  }

  /** How many values are under a key. */
  count(key: K): number {
    return this.map.get(key)?.size ?? 0;
  }

  has(key: K, value: V): boolean {
    return this.map.get(key)?.has(value) === true;
  }

  /** The values under a key, in insertion order (empty when none). */
  values(key: K): ReadonlySet<V> {
    return this.map.get(key) ?? new Set();
  }
}
