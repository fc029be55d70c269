/**
 * The accounts of a chaos run: for each pair (one sender device, one
 * receiver device), when each message was first sent, when its sent_ack
 * came, and in which order the receiver got what. Pure bookkeeping; the
 * clients call it, the report reads it.
 *
 * What counts as a fault of the relay:
 * - lost: a message whose sent_ack the sender got and that never reached
 *   the receiver;
 * - an order break: the receiver got b before a although a's sent_ack came
 *   before b was first sent (so the relay had stored a before b).
 * Duplicates (a message delivered again after the receiver's ack was lost
 * in a fault) are at-least-once delivery working, and are counted, not failed.
 */
export interface PairAccount {
  sentAt: Map<number, number>;
  ackedAt: Map<number, number>;
  /** First deliveries, in the order the receiver got them. */
  delivered: number[];
  deliveredAt: Map<number, number>;
  duplicates: number;
  /** Where each step of a message happened (node, connection), for the report of an order break. */
  trace: Map<number, string[]>;
}

export interface LedgerSummary {
  sent: number;
  acked: number;
  delivered: number;
  lost: number;
  /** Up to 20 lost messages as `pair:seq`, for the report. */
  lostSample: string[];
  duplicates: number;
  orderBreaks: number;
  /** Up to 20 order breaks: the pair, the message delivered early, when it arrived, and the earlier-stored one it passed. */
  breakSample: { pair: number; early: number; at: number; passed: number; earlyTrace: string[]; passedTrace: string[] }[];
}

export class Ledger {
  readonly pairs: PairAccount[];

  constructor(pairs: number) {
    this.pairs = Array.from({ length: pairs }, () => ({ sentAt: new Map(), ackedAt: new Map(), delivered: [], deliveredAt: new Map(), duplicates: 0, trace: new Map() }));
  }

  sent(pair: number, seq: number, at: number, where?: string): void {
    const p = this.pairs[pair]!;
    if (!p.sentAt.has(seq)) p.sentAt.set(seq, at);
    if (where !== undefined) note(p, seq, `sent ${(at / 1000).toFixed(2)} ${where}`);
  }

  acked(pair: number, seq: number, at: number, where?: string): void {
    const p = this.pairs[pair]!;
    if (!p.ackedAt.has(seq)) p.ackedAt.set(seq, at);
    if (where !== undefined) note(p, seq, `acked ${(at / 1000).toFixed(2)} ${where}`);
  }

  /** Returns false for a duplicate. */
  delivered(pair: number, seq: number, at: number, where?: string): boolean {
    const p = this.pairs[pair]!;
    if (where !== undefined) note(p, seq, `got ${(at / 1000).toFixed(2)} ${where}`);
    if (p.deliveredAt.has(seq)) {
      p.duplicates++;
      return false;
    }
    p.deliveredAt.set(seq, at);
    p.delivered.push(seq);
    return true;
  }

  /** Acked messages not delivered yet. */
  outstanding(): number {
    let n = 0;
    for (const p of this.pairs) for (const seq of p.ackedAt.keys()) if (!p.deliveredAt.has(seq)) n++;
    return n;
  }

  /** The first time after `t` at which the pair's receiver got a message first sent after `t`; undefined if none. */
  firstDeliveryAfter(pair: number, t: number): number | undefined {
    const p = this.pairs[pair]!;
    let first: number | undefined;
    for (const [seq, at] of p.deliveredAt) {
      if (at <= t || (p.sentAt.get(seq) ?? 0) <= t) continue;
      if (first === undefined || at < first) first = at;
    }
    return first;
  }

  summary(): LedgerSummary {
    const s: LedgerSummary = { sent: 0, acked: 0, delivered: 0, lost: 0, lostSample: [], duplicates: 0, orderBreaks: 0, breakSample: [] };
    this.pairs.forEach((p, i) => {
      s.sent += p.sentAt.size;
      s.acked += p.ackedAt.size;
      s.delivered += p.delivered.length;
      s.duplicates += p.duplicates;
      for (const seq of p.ackedAt.keys()) {
        if (p.deliveredAt.has(seq)) continue;
        s.lost++;
        if (s.lostSample.length < 20) s.lostSample.push(`${i}:${seq}`);
      }
      const breaks = orderBreaks(p);
      s.orderBreaks += breaks.length;
      for (const b of breaks)
        if (s.breakSample.length < 20)
          s.breakSample.push({ pair: i, early: b.early, at: p.deliveredAt.get(b.early)!, passed: b.passed, earlyTrace: p.trace.get(b.early) ?? [], passedTrace: p.trace.get(b.passed) ?? [] });
    });
    return s;
  }
}

function note(p: PairAccount, seq: number, line: string): void {
  const lines = p.trace.get(seq);
  if (lines) lines.push(line);
  else p.trace.set(seq, [line]);
}

/**
 * Deliveries b that came before some a the relay had stored first (a's
 * sent_ack before b's first send). One pass from the last delivery back,
 * keeping the earliest sent_ack among the deliveries after the current one.
 */
export function orderBreaks(p: Pick<PairAccount, 'delivered' | 'sentAt' | 'ackedAt'>): { early: number; passed: number }[] {
  const breaks: { early: number; passed: number }[] = [];
  let earliestAckLater = Infinity;
  let earliestSeq = -1;
  for (let i = p.delivered.length - 1; i >= 0; i--) {
    const seq = p.delivered[i]!;
    const sentAt = p.sentAt.get(seq) ?? -Infinity;
    if (earliestAckLater < sentAt) breaks.push({ early: seq, passed: earliestSeq });
    const ackedAt = p.ackedAt.get(seq);
    if (ackedAt !== undefined && ackedAt < earliestAckLater) {
      earliestAckLater = ackedAt;
      earliestSeq = seq;
    }
  }
  return breaks.reverse();
}
