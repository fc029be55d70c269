/**
 * A small typed event emitter. Handlers may be async: `emit` waits for all
 * of them, which is what lets the client ack a stored frame only after the
 * application has handled it. A throwing handler makes `emit` reject.
 */
export type Handler<E> = (event: E) => void | Promise<void>;

export class TypedEmitter<Events extends object> {
  private readonly handlers = new Map<keyof Events, Set<Handler<never>>>();

  /** Adds a handler; returns a function that removes it. */
  on<K extends keyof Events>(name: K, handler: Handler<Events[K]>): () => void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(handler as Handler<never>);
    return () => this.off(name, handler);
  }

  /** Resolves with the next event of that name. */
  once<K extends keyof Events>(name: K, filter: (e: Events[K]) => boolean = () => true): Promise<Events[K]> {
    return new Promise((resolve) => {
      const off = this.on(name, (e) => {
        if (!filter(e)) return;
        off();
        resolve(e);
      });
    });
  }

  off<K extends keyof Events>(name: K, handler: Handler<Events[K]>): void {
    this.handlers.get(name)?.delete(handler as Handler<never>);
  }

  async emit<K extends keyof Events>(name: K, event: Events[K]): Promise<void> {
    const set = this.handlers.get(name);
    if (!set || set.size === 0) return;
    await Promise.all([...set].map((h) => (h as Handler<Events[K]>)(event)));
  }
}
