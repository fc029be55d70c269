import { GenerationalMap } from '../src/util/generational-map.ts';

/**
 * The keys of stored frames the application has already handled, so a frame
 * delivered again (after a reconnect that beat its ack) reaches the handlers
 * once. Bounded: at least the last `capacity` keys are remembered, and at
 * most twice as many; older ones are dropped in halves (GenerationalMap),
 * which keeps each add cheap during a long backlog. A redelivery only
 * happens for frames whose ack was lost, which are recent, so a window of a
 * few thousand covers it.
 */
export class DedupWindow {
  private readonly keys: GenerationalMap<string, true>;

  constructor(capacity = 5_000) {
    this.keys = new GenerationalMap(capacity * 2);
  }

  has(key: string): boolean {
    return this.keys.get(key) !== undefined;
  }

  add(key: string): void {
    if (!this.has(key)) this.keys.set(key, true);
  }

  get size(): number {
    return this.keys.size;
  }
}
