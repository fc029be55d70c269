/**
 * Whether a sender addressed exactly the recipient's devices. Pure, so the
 * rule is tested on its own: `missing` are devices the sender must also
 * encrypt for (it should fetch their keys), `extra` are devices it must drop.
 */
export interface DeviceMismatch {
  missing: string[];
  extra: string[];
}

export function mismatchedDevices(expected: ReadonlySet<string>, addressed: readonly string[]): DeviceMismatch | undefined {
  const given = new Set(addressed);
  const missing = [...expected].filter((d) => !given.has(d)).sort();
  const extra = [...given].filter((d) => !expected.has(d)).sort();
  return missing.length === 0 && extra.length === 0 ? undefined : { missing, extra };
}

/** The devices a send must address: all of the recipient's, less the sending device when writing to oneself. */
export function recipientDevices(devices: ReadonlySet<string>, recipient: string, senderUser: string, senderDevice: string): Set<string> {
  const out = new Set(devices);
  if (recipient === senderUser) out.delete(senderDevice);
  return out;
}

/**
 * True when `addressed` (free of duplicates) is exactly `devices` less
 * `except`: the same answer as no mismatch against recipientDevices, without
 * building a set or two lists. The send path asks this first.
 */
export function addressesExactly(devices: ReadonlySet<string>, addressed: readonly string[], except?: string): boolean {
  const expected = except !== undefined && devices.has(except) ? devices.size - 1 : devices.size;
  if (addressed.length !== expected) return false;
  for (const d of addressed) if (d === except || !devices.has(d)) return false;
  return true;
}

/** True when an id appears twice in a list. */
export function hasDuplicates(ids: readonly string[]): boolean {
  // Most sends address one to a few devices: compare pairwise rather than build a set.
  if (ids.length <= 8) {
    for (let i = 1; i < ids.length; i++) for (let j = 0; j < i; j++) if (ids[i] === ids[j]) return true;
    return false;
  }
  return new Set(ids).size !== ids.length;
}
