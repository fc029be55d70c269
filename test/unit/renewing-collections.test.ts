import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RenewingMap, RenewingSet } from '../../src/util/renewing-collections.ts';

/** The Map a renewing collection holds now (private), to tell whether it was rebuilt; a RenewingSet holds it in a RenewingMap. */
const tableOf = (c: RenewingMap<unknown, unknown> | RenewingSet<unknown>): unknown => {
  const inner = (c as unknown as { map: unknown }).map;
  return inner instanceof RenewingMap ? tableOf(inner) : inner;
};

const ops = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 40 })), { maxLength: 600 });

describe('renewing collections', () => {
  it('RenewingMap holds what a Map holds, in the same order, whatever the inserts and deletes', () => {
    fc.assert(
      fc.property(ops, (steps) => {
        const model = new Map<number, number>();
        const map = new RenewingMap<number, number>();
        steps.forEach(([insert, k], i) => {
          if (insert) {
            model.set(k, i);
            map.set(k, i);
          } else expect(map.delete(k)).toBe(model.delete(k));
          expect(map.size).toBe(model.size);
          expect(map.get(k)).toBe(model.get(k));
          expect(map.has(k)).toBe(model.has(k));
        });
        expect([...map.keys()]).toEqual([...model.keys()]);
        expect([...map.values()]).toEqual([...model.values()]);
      }),
    );
  });

  it('RenewingSet holds what a Set holds, in the same order, whatever the inserts and deletes', () => {
    fc.assert(
      fc.property(ops, (steps) => {
        const model = new Set<number>();
        const set = new RenewingSet<number>();
        for (const [insert, k] of steps) {
          if (insert) {
            model.add(k);
            set.add(k);
          } else expect(set.delete(k)).toBe(model.delete(k));
          expect(set.size).toBe(model.size);
          expect(set.has(k)).toBe(model.has(k));
        }
        expect([...set]).toEqual([...model]);
        expect([...set.values()]).toEqual([...model]);
      }),
    );
  });

  it('starts a new table at the first insert after deletes outnumber twice the live entries plus 32', () => {
    const set = new RenewingSet<number>();
    for (let i = 0; i < 10; i++) set.add(i);
    const first = tableOf(set);
    // 10 added; deleting 8 leaves 2 live: the threshold is 2 * 2 + 32 = 36 deletes.
    for (let i = 0; i < 8; i++) set.delete(i);
    for (let round = 0; round < 28; round++) {
      set.add(100 + round);
      set.delete(100 + round);
    }
    // 36 deletes so far: not more than the threshold yet.
    set.add(1000);
    expect(tableOf(set)).toBe(first);
    set.delete(1000);
    set.add(1001);
    expect(tableOf(set)).not.toBe(first);
    expect([...set]).toEqual([8, 9, 1001]);
    // A delete that finds nothing is not counted.
    const second = tableOf(set);
    for (let i = 0; i < 100; i++) set.delete(-1);
    set.add(1002);
    expect(tableOf(set)).toBe(second);
  });

  it('lets a caller delete what it iterates, across a renewal, and visits each entry once', () => {
    const map = new RenewingMap<number, string>();
    for (let i = 0; i < 200; i++) {
      map.set(i, `v${i}`);
      if (i >= 5) map.delete(i - 5);
    }
    const seen: number[] = [];
    for (const k of map.keys()) {
      seen.push(k);
      map.delete(k);
    }
    expect(seen).toEqual([195, 196, 197, 198, 199]);
    expect(map.size).toBe(0);
    map.set(7, 'again');
    expect([...map.values()]).toEqual(['again']);
  });
});
