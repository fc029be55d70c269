import { describe, expect, it } from 'vitest';
import { ExpiryWheel } from '../../src/session/expiry-wheel.ts';

class Item {
  expiredAt: number | undefined;
  constructor(
    public expiresAt: number,
    private readonly clock: { t: number },
  ) {}
  expire(): void {
    this.expiredAt = this.clock.t;
  }
}

describe('ExpiryWheel', () => {
  it('expires an item at the first tick at or after its expiry, never before, and within one slot plus a tick', () => {
    const clock = { t: 10_000 };
    const wheel = new ExpiryWheel<Item>(() => clock.t);
    const items = [10_001, 10_999, 11_000, 11_001, 13_500].map((at) => new Item(at, clock));
    for (const i of items) wheel.add(i);
    for (; clock.t <= 16_000; clock.t += 250) {
      wheel.tick();
      for (const i of items) if (i.expiredAt === undefined) expect(clock.t).toBeLessThan(i.expiresAt + 2000);
    }
    for (const i of items) {
      expect(i.expiredAt).toBeGreaterThanOrEqual(i.expiresAt);
      expect(i.expiredAt! - i.expiresAt).toBeLessThan(1250);
    }
    expect(wheel.size).toBe(0);
  });

  it('moves an item whose expiry changed, and forgets a removed one', () => {
    const clock = { t: 0 };
    const wheel = new ExpiryWheel<Item>(() => clock.t);
    const renewed = new Item(1500, clock);
    const removed = new Item(1500, clock);
    wheel.add(renewed);
    wheel.add(removed);
    renewed.expiresAt = 60_000;
    wheel.add(renewed);
    wheel.remove(removed);
    clock.t = 5000;
    wheel.tick();
    expect(renewed.expiredAt).toBeUndefined();
    expect(removed.expiredAt).toBeUndefined();
    expect(wheel.size).toBe(1);
    clock.t = 60_000;
    wheel.tick();
    expect(renewed.expiredAt).toBe(60_000);
  });

  it('expires an item already past its expiry at the next tick, and catches up after a long stall', () => {
    const clock = { t: 100_000 };
    const wheel = new ExpiryWheel<Item>(() => clock.t);
    const late = new Item(50_000, clock);
    const later = new Item(100_000 + 3_600_000, clock);
    wheel.add(late);
    wheel.add(later);
    clock.t += 1;
    wheel.tick();
    expect(late.expiredAt).toBe(100_001);
    // The process stalls for two hours: one tick expires the rest without walking every second in between.
    clock.t += 7_200_000;
    wheel.tick();
    expect(later.expiredAt).toBe(clock.t);
  });
});
