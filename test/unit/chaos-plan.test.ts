import { describe, expect, it } from 'vitest';
import { faultKinds, planFaults } from '../../tools/chaos/fault-plan.ts';
import { Ledger, orderBreaks } from '../../tools/chaos/ledger.ts';

describe('chaos fault plan', () => {
  const o = { durationMs: 180_000, seed: 7, nodes: 3, pairs: 12, gapMs: 8_000 };

  it('is the same for the same seed, and another for another seed', () => {
    expect(planFaults(o)).toEqual(planFaults(o));
    expect(planFaults({ ...o, seed: 8 })).not.toEqual(planFaults(o));
  });

  it('runs one fault at a time inside the calm ends, every kind before any repeats', () => {
    const plan = planFaults(o);
    expect(plan.length).toBeGreaterThanOrEqual(10);
    expect(new Set(plan.slice(0, faultKinds.length).map((f) => f.kind)).size).toBe(faultKinds.length);
    for (let i = 0; i < plan.length; i++) {
      const f = plan[i]!;
      expect(f.at).toBeGreaterThanOrEqual(o.durationMs / 10);
      expect(f.at + f.downMs).toBeLessThanOrEqual(o.durationMs * 0.9);
      expect(f.target).toBeLessThan(f.kind === 'slow_consumer' ? o.pairs : o.nodes);
      if (i > 0) expect(f.at).toBeGreaterThanOrEqual(plan[i - 1]!.at + plan[i - 1]!.downMs + o.gapMs);
    }
  });
});

describe('chaos ledger', () => {
  it('counts lost, duplicate and delivered messages', () => {
    const l = new Ledger(1);
    for (const seq of [1, 2, 3]) l.sent(0, seq, seq);
    l.acked(0, 1, 10);
    l.acked(0, 2, 11);
    expect(l.delivered(0, 1, 20)).toBe(true);
    expect(l.delivered(0, 1, 21)).toBe(false);
    l.delivered(0, 3, 22);
    expect(l.outstanding()).toBe(1);
    expect(l.summary()).toEqual({ sent: 3, acked: 2, delivered: 2, lost: 1, lostSample: ['0:2'], duplicates: 1, orderBreaks: 0, breakSample: [] });
  });

  it('calls it an order break only when the message delivered late had its sent_ack before the other was sent', () => {
    const sentAt = new Map([
      [1, 0],
      [2, 100],
      [3, 200],
    ]);
    // 1 acked at 50, before 2 was sent at 100: 2 before 1 is a break.
    expect(
      orderBreaks({
        delivered: [2, 1, 3],
        sentAt,
        ackedAt: new Map([
          [1, 50],
          [2, 150],
          [3, 250],
        ]),
      }),
    ).toEqual([{ early: 2, passed: 1 }]);
    // 1 acked only at 300 (a resend after a fault): the relay stored it after 2 and 3, so any order is right.
    expect(
      orderBreaks({
        delivered: [2, 3, 1],
        sentAt,
        ackedAt: new Map([
          [1, 300],
          [2, 150],
          [3, 250],
        ]),
      }),
    ).toEqual([]);
    expect(
      orderBreaks({
        delivered: [1, 2, 3],
        sentAt,
        ackedAt: new Map([
          [1, 50],
          [2, 150],
          [3, 250],
        ]),
      }),
    ).toEqual([]);
  });

  it('finds the first delivery of a message sent after a moment', () => {
    const l = new Ledger(1);
    l.sent(0, 1, 0);
    l.sent(0, 2, 100);
    l.delivered(0, 1, 150);
    l.delivered(0, 2, 180);
    expect(l.firstDeliveryAfter(0, 50)).toBe(180);
    expect(l.firstDeliveryAfter(0, 200)).toBeUndefined();
  });
});
