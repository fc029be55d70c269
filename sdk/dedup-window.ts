/**
 * The keys of stored frames the application has already handled, so a frame
 * delivered again (after a reconnect that beat its ack) reaches the handlers
 * once. Bounded: the oldest keys are forgotten first. A redelivery only
 * happens for frames whose ack was lost, which are recent, so a window of a
 * few thousand covers it.
 */
export class DedupWindow {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity = 5_000) {}

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    if (this.keys.has(key)) return;
    this.keys.add(key);
    if (this.keys.size > this.capacity) {
      // A Set iterates in insertion order: the first key is the oldest.
      const oldest = this.keys.values().next().value as string;
      this.keys.delete(oldest);
    }
  }

  get size(): number {
    return this.keys.size;
  }
}
