import type { StoredKind } from '../delivery/queue-entry.ts';

/**
 * Frames written to sockets, by frame type, read by the metrics at scrape.
 *
 * Stored entries are counted by their kind, which is their frame's type, so
 * a `deliver` costs one increment. Every other frame (acks, errors,
 * ephemeral frames) is counted by the type at its head: every server frame
 * begins `{"type":"<type>"` (the encoders put the type first), so finding
 * it reads a few characters and copies a short string. Types come from the
 * relay's own encoders, so the map holds a few dozen keys at most.
 */
export const storedFramesOut: Record<StoredKind, number> = {
  deliver: 0,
  media_key: 0,
  sync_request: 0,
  sync_data: 0,
  sync_ack: 0,
  status_update: 0,
  device_approval_request: 0,
};

export const otherFramesOut = new Map<string, number>();

const HEAD = '{"type":"';

export function countFrameOut(frame: string): void {
  const end = frame.indexOf('"', HEAD.length);
  const type = end > HEAD.length && frame.startsWith(HEAD) ? frame.slice(HEAD.length, end) : 'unknown';
  otherFramesOut.set(type, (otherFramesOut.get(type) ?? 0) + 1);
}

/** Both counts as one list of (type, frames). */
export function framesOutByType(): [string, number][] {
  const all = new Map(otherFramesOut);
  for (const [kind, n] of Object.entries(storedFramesOut)) all.set(kind, (all.get(kind) ?? 0) + n);
  return [...all];
}
