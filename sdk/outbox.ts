import type { ClientFrame } from '../src/protocol/client-frames.ts';
import type { SentAckFrame } from '../src/protocol/server-frame-shapes.ts';

/** Client frames that the relay stores and answers with `sent_ack`. */
export type StoredClientFrame = Extract<ClientFrame, { type: 'send' | 'media_key' | 'sync_request' | 'sync_data' | 'sync_ack' }>;

interface Entry {
  frame: StoredClientFrame;
  /** Times the relay refused this frame with a retryable error. */
  refusals: number;
  resolve(ack: SentAckFrame): void;
  reject(err: Error): void;
}

/**
 * Stored sends that the relay has not acknowledged yet, in the order they
 * were made. Each keeps its frame, id included, so after a reconnect the
 * very same frame is sent again and the relay stores it once. An entry
 * leaves only on `sent_ack` (resolve) or a final error (reject).
 */
export class Outbox {
  private readonly entries = new Map<string, Entry>();

  add(frame: StoredClientFrame): Promise<SentAckFrame> {
    const existing = this.entries.get(frame.id);
    if (existing) return Promise.reject(new Error(`a send with id ${frame.id} is already pending`));
    return new Promise((resolve, reject) => this.entries.set(frame.id, { frame, refusals: 0, resolve, reject }));
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  frame(id: string): StoredClientFrame | undefined {
    return this.entries.get(id)?.frame;
  }

  /** Counts a retryable refusal of the frame; returns how many came before it. */
  refused(id: string): number {
    const e = this.entries.get(id);
    return e ? e.refusals++ : 0;
  }

  /** Every pending frame, oldest first. */
  frames(): StoredClientFrame[] {
    return [...this.entries.values()].map((e) => e.frame);
  }

  resolve(ack: SentAckFrame): void {
    const e = this.entries.get(ack.message_id);
    if (!e) return;
    this.entries.delete(ack.message_id);
    e.resolve(ack);
  }

  reject(id: string, err: Error): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    e.reject(err);
  }

  rejectAll(err: Error): void {
    for (const id of [...this.entries.keys()]) this.reject(id, err);
  }

  get size(): number {
    return this.entries.size;
  }
}
