/** Something that ends at a given time: a session whose token expires. */
export interface Expiring {
  readonly expiresAt: number;
  expire(): void;
}

/**
 * Closes sockets when their tokens expire, including sockets that only
 * receive and so never reach the per-frame check. One wheel per node: items
 * sit in one-second slots by expiry, and one timer a second expires the
 * slots that have passed, so a node with 100k sockets runs one timer, not
 * 100k, and a tick costs only the sockets it ends.
 *
 * Guaranteed: an item is expired within `slotMs` plus one tick after its
 * `expiresAt` (about two seconds with the defaults), unless removed first.
 */
export class ExpiryWheel<T extends Expiring> {
  private readonly slots = new Map<number, Set<T>>();
  private readonly slotOf = new Map<T, number>();
  /** The last slot expired; slots up to it are empty. */
  private done: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly now: () => number,
    private readonly slotMs = 1000,
  ) {
    this.done = Math.floor(now() / slotMs) - 1;
  }

  /** Adds the item, or moves it to its new expiry (a renewed token). */
  add(item: T): void {
    this.remove(item);
    // The slot that ends at or after the expiry: an item is never expired early.
    const slot = Math.max(Math.ceil(item.expiresAt / this.slotMs), this.done + 1);
    let set = this.slots.get(slot);
    if (!set) this.slots.set(slot, (set = new Set()));
    set.add(item);
    this.slotOf.set(item, slot);
  }

  remove(item: T): void {
    const slot = this.slotOf.get(item);
    if (slot === undefined) return;
    this.slotOf.delete(item);
    const set = this.slots.get(slot);
    set?.delete(item);
    if (set?.size === 0) this.slots.delete(slot);
  }

  /** Expires every item whose slot has passed by now. */
  tick(): void {
    const current = Math.floor(this.now() / this.slotMs);
    // After a long stall of the process, walk only the slots that hold something.
    if (current - this.done > this.slots.size) {
      for (const slot of [...this.slots.keys()].filter((k) => k <= current).sort((a, b) => a - b)) this.expireSlot(slot);
    } else {
      for (let slot = this.done + 1; slot <= current; slot++) this.expireSlot(slot);
    }
    this.done = current;
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.slotMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get size(): number {
    return this.slotOf.size;
  }

  private expireSlot(slot: number): void {
    const set = this.slots.get(slot);
    if (!set) return;
    this.slots.delete(slot);
    for (const item of set) {
      this.slotOf.delete(item);
      item.expire();
    }
  }
}
