/**
 * Recently accepted sends, by sending device and message id, so a client
 * that retries a send (it lost the sent_ack) is answered without storing or
 * delivering the message again, even after its recipients acked and the
 * queue rows are gone. Bounded in size and age; past that, the database's
 * unique key still stores a retry once, and clients dedupe on message_id.
 */
export type SendState = 'pending' | 'done';

export class RecentSends {
  private readonly map = new Map<string, { state: SendState; at: number }>();

  constructor(
    private readonly now: () => number,
    private readonly maxEntries = 100_000,
    private readonly ttlMs = 10 * 60_000,
  ) {}

  static key(user: string, device: string, messageId: string): string {
    return `${user}\u0000${device}\u0000${messageId}`;
  }

  get(key: string): SendState | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (this.now() - hit.at > this.ttlMs) {
      this.map.delete(key);
      return undefined;
    }
    return hit.state;
  }

  set(key: string, state: SendState): void {
    this.map.delete(key);
    this.map.set(key, { state, at: this.now() });
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value!);
  }

  delete(key: string): void {
    this.map.delete(key);
  }
}
