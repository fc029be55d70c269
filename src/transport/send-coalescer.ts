/** Something with frames waiting to be written. */
export interface Flushable {
  flush(): void;
}

/**
 * Collects the sockets that were sent to during one turn of the event loop
 * and flushes each once, from a single `setImmediate`. A commit that
 * resolves a batch of messages thus costs one write per recipient socket
 * instead of one per frame, at the price of a delay until the I/O phase of
 * the current turn ends.
 */
export class SendCoalescer {
  private pending: Flushable[] = [];
  private scheduled = false;

  constructor(private readonly onError: (err: unknown) => void) {}

  schedule(target: Flushable): void {
    this.pending.push(target);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushAll);
  }

  readonly flushAll = (): void => {
    this.scheduled = false;
    const targets = this.pending;
    this.pending = [];
    for (const t of targets) {
      try {
        t.flush();
      } catch (err) {
        // One socket's failure must not strand the other sockets' frames.
        this.onError(err);
      }
    }
  };
}
