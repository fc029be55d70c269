import type { Bus, BusMessage, BusStats, Reached } from './bus.ts';

/**
 * The in-process bus: a broker that several MemoryBus "nodes" share. A
 * single relay without Redis has one node on its own broker, where nothing
 * is ever delivered (it never hears its own publishes); tests put several
 * nodes on one broker to check the Bus contract.
 */
export class MemoryBroker {
  readonly nodes = new Set<MemoryBus>();
}

export class MemoryBus implements Bus {
  private readonly counts: BusStats = { publishes: 0, publishedBytes: 0, publishFailures: 0, received: 0 };
  private readonly topics = new Set<string>();
  private handlers: ((topic: string, msg: BusMessage) => void)[] = [];
  private pending: { topic: string; msg: BusMessage; reached: Reached | undefined }[] = [];
  private scheduled = false;

  constructor(
    readonly nodeId: string,
    private readonly broker: MemoryBroker = new MemoryBroker(),
  ) {
    broker.nodes.add(this);
  }

  get hasPeers(): boolean {
    return this.broker.nodes.size > 1;
  }

  subscribe(topic: string): void {
    this.topics.add(topic);
  }

  unsubscribe(topic: string): void {
    this.topics.delete(topic);
  }

  /** A subscription here takes effect at once. */
  listening(): true {
    return true;
  }

  publish(topic: string, msg: BusMessage, reached?: Reached): void {
    if (!this.hasPeers) {
      if (reached) setImmediate(reached, msg, 0);
      return;
    }
    // Delivered on a later turn, like a network bus: a publisher never sees its handler run inline.
    this.counts.publishes++;
    this.pending.push({ topic, msg, reached });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.pending;
      this.pending = [];
      for (const { topic: t, msg: m, reached: r } of batch) {
        let others = 0;
        for (const node of this.broker.nodes) if (node !== this && node.receive(t, m)) others++;
        r?.(m, others);
      }
    });
  }

  onMessage(handler: (topic: string, msg: BusMessage) => void): void {
    this.handlers.push(handler);
  }

  onResync(): void {
    // An in-process bus never loses messages.
  }

  onLoss(): void {
    // Nor learns of a loss.
  }

  stats(): BusStats {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    this.broker.nodes.delete(this);
  }

  /** True when this node subscribes to the topic (it heard the message). */
  private receive(topic: string, msg: BusMessage): boolean {
    if (!this.topics.has(topic)) return false;
    this.counts.received++;
    for (const h of this.handlers) h(topic, msg);
    return true;
  }
}
