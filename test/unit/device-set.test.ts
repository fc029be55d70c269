import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addressesExactly, hasDuplicates, mismatchedDevices, recipientDevices } from '../../src/devices/device-set.ts';

describe('device set checks', () => {
  it('matches an exact device list, in any order', () => {
    expect(mismatchedDevices(new Set(['a', 'b']), ['b', 'a'])).toBeUndefined();
  });
  it('reports missing and extra devices, sorted', () => {
    expect(mismatchedDevices(new Set(['a', 'b', 'c']), ['z', 'b', 'y'])).toEqual({ missing: ['a', 'c'], extra: ['y', 'z'] });
  });
  it('leaves the sending device out of a send to its own user', () => {
    expect([...recipientDevices(new Set(['p', 'q']), 'me', 'me', 'p')]).toEqual(['q']);
    expect([...recipientDevices(new Set(['p', 'q']), 'you', 'me', 'p')]).toEqual(['p', 'q']);
  });
  it('spots duplicate ids', () => {
    expect(hasDuplicates(['a', 'b', 'a'])).toBe(true);
    expect(hasDuplicates(['a', 'b'])).toBe(false);
  });
});

describe('addressesExactly', () => {
  it('agrees with the full check on any device set, list and sender', () => {
    const id = fc.constantFrom('a', 'b', 'c', 'd', 'e');
    fc.assert(
      fc.property(fc.uniqueArray(id), fc.uniqueArray(id), fc.option(id, { nil: undefined }), (devices, addressed, self) => {
        const set = new Set(devices);
        // Writing to one's own user leaves the sending device out; to another user nothing is left out.
        const full = self === undefined ? mismatchedDevices(set, addressed) : mismatchedDevices(recipientDevices(set, 'me', 'me', self), addressed);
        expect(addressesExactly(set, addressed, self)).toBe(full === undefined);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('hasDuplicates', () => {
  it('agrees with a set on short and long lists', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'), { maxLength: 14 }), (ids) => {
        expect(hasDuplicates(ids)).toBe(new Set(ids).size !== ids.length);
      }),
      { numRuns: 2000 },
    );
  });
});
