import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyRing, MAX_PROBE, hashKey } from '../../src/util/key-ring.ts';

type Op = { kind: 'add'; key: string } | { kind: 'remove'; key: string };

/**
 * What a ring without a byte limit must keep: a key is kept when its
 * latest add is among the last `capacity` adds and it was not removed
 * since. (A removed entry keeps its place in the ring until it ages out.)
 */
function expected(ops: readonly Op[], capacity: number): Set<string> {
  const adds: { key: string; removed: boolean }[] = [];
  for (const op of ops) {
    const latest = [...adds].reverse().find((a) => a.key === op.key);
    const kept = latest !== undefined && !latest.removed && adds.length - adds.lastIndexOf(latest) <= capacity;
    if (kept) latest.removed = true;
    if (op.kind === 'add') adds.push({ key: op.key, removed: false });
  }
  return new Set(
    adds
      .slice(-capacity)
      .filter((a) => !a.removed)
      .map((a) => a.key),
  );
}

describe('key ring', () => {
  it('keeps exactly the latest keys, through adds, replacements and removals, whatever the seed (model check)', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'dd', 'eee', 'user\u0000dev\u0000m1', 'user\u0000dev\u0000m2', 'x'.repeat(20));
    const op = fc.oneof({ weight: 3, arbitrary: key.map((k): Op => ({ kind: 'add', key: k })) }, { weight: 1, arbitrary: key.map((k): Op => ({ kind: 'remove', key: k })) });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer(), fc.array(op, { maxLength: 80 }), (capacity, seed, ops) => {
        // 64 bytes per key: only the count limits this ring.
        const ring = new KeyRing(capacity, 64, seed);
        for (const o of ops) {
          if (o.kind === 'add') expect(ring.add(o.key)).toBeGreaterThanOrEqual(0);
          else {
            const e = ring.find(o.key);
            if (e >= 0) ring.remove(e);
          }
        }
        const want = expected(ops, capacity);
        for (const k of ['a', 'b', 'c', 'dd', 'eee', 'user\u0000dev\u0000m1', 'user\u0000dev\u0000m2', 'x'.repeat(20), 'zz']) {
          expect(ring.find(k) >= 0, k).toBe(want.has(k));
        }
        expect(ring.size).toBe(want.size);
      }),
      { numRuns: 500 },
    );
  });

  it('drops the oldest keys when their bytes run out, never splits or overwrites a kept key, and keeps the newest', () => {
    // 10 entries of 8 bytes: 80 bytes of keys.
    const ring = new KeyRing(10, 8, 7);
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}-`.padEnd(5 + (i % 23), String.fromCharCode(97 + (i % 26))));
    keys.forEach((k, i) => {
      expect(ring.add(k)).toBeGreaterThanOrEqual(0);
      // Every kept key is one of the latest, and the latest are all still there with their bytes intact.
      let bytes = 0;
      let kept = 0;
      for (let j = i; j >= 0 && bytes + keys[j]!.length <= 80 - 27 && kept < 10; j--, kept++) {
        bytes += keys[j]!.length;
        expect(ring.find(keys[j]!), `${i}: ${keys[j]}`).toBeGreaterThanOrEqual(0);
      }
      expect(ring.size).toBeLessThanOrEqual(10);
      for (let j = 0; j < i - 10; j++) expect(ring.find(keys[j]!)).toBe(-1);
    });
  });

  it('names each insert apart, so a holder of an old entry can tell its key was replaced', () => {
    const ring = new KeyRing(2, 16, 1);
    const first = ring.add('k');
    const stamp = ring.stamp(first);
    ring.add('a');
    ring.add('b'); // 'k' ages out; its entry number is reused
    expect(ring.holds(first, stamp)).toBe(false);
    const again = ring.add('k');
    expect(ring.holds(again, ring.stamp(again))).toBe(true);
    expect(ring.holds(first, stamp)).toBe(false);
    expect(ring.holds(-1, -1)).toBe(false);
    // Empty keys too: each insert has a stamp of its own.
    const empty = new KeyRing(1, 4, 1);
    const a = empty.add('');
    const stampA = empty.stamp(a);
    const c = empty.add('');
    expect([a, c]).toEqual([0, 0]);
    expect(empty.holds(c, empty.stamp(c))).toBe(true);
    expect(empty.holds(a, stampA)).toBe(false);
  });

  it('does not keep keys it cannot hold: wide characters, over-long keys', () => {
    const ring = new KeyRing(4, 8, 1);
    expect(ring.add('caf\u00e9')).toBeGreaterThanOrEqual(0);
    expect(ring.add('snow\u2603')).toBe(-1);
    expect(ring.find('snow\u2603')).toBe(-1);
    expect(ring.add('x'.repeat(33))).toBe(-1);
    expect(ring.find('caf\u00e9')).toBeGreaterThanOrEqual(0);
  });

  it(`walks at most ${MAX_PROBE} slots, even for keys chosen to share a home slot`, () => {
    const seed = 12345;
    const capacity = 128; // a table of 256 slots
    const home = (k: string) => hashKey(k, seed) & 255;
    const colliding: string[] = [];
    for (let i = 0; colliding.length < MAX_PROBE + 8; i++) if (home(`m${i}`) === 3) colliding.push(`m${i}`);
    const ring = new KeyRing(capacity, 16, seed);
    const entries = colliding.map((k) => ring.add(k));
    expect(entries.slice(0, MAX_PROBE).every((e) => e >= 0)).toBe(true);
    expect(entries.slice(MAX_PROBE).every((e) => e === -1)).toBe(true);
    for (const k of colliding.slice(0, MAX_PROBE)) expect(ring.find(k)).toBeGreaterThanOrEqual(0);
    // Removing one from the middle of the run moves the later ones back; all stay findable.
    ring.remove(ring.find(colliding[10]!));
    expect(ring.find(colliding[10]!)).toBe(-1);
    for (const k of colliding.slice(0, MAX_PROBE)) if (k !== colliding[10]) expect(ring.find(k), k).toBeGreaterThanOrEqual(0);
    // The freed slot takes one more key of that home.
    expect(ring.add(colliding[MAX_PROBE]!)).toBeGreaterThanOrEqual(0);
  });

  it('has its memory resident once made, so resident memory does not creep up as short keys fill it', () => {
    // Resident anonymous memory outside the JavaScript heap, from /proc (Linux).
    const resident = () => Number(/RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024 - process.memoryUsage().heapTotal;
    const before = resident();
    const ring = new KeyRing(400_000, 160);
    const made = resident();
    // 64 MB of key bytes, resident at once (page tables and the allocator's rounding aside).
    expect(made - before).toBeGreaterThan(0.9 * 400_000 * 160);
    for (let i = 0; i < 1_200_000; i++) ring.add(`r${i % 50}\u0000s${i % 50}\u0000m-${i}`);
    // 1.2 million short keys write 24 MB of the byte ring; a ring whose pages came with use grew by that much.
    expect(resident() - made).toBeLessThan(0.1 * 400_000 * 160);
  });
});
