import { describe, expect, it } from 'vitest';
import { hasDuplicates, mismatchedDevices, recipientDevices } from '../../src/devices/device-set.ts';

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
