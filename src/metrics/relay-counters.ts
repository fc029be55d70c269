import { clientFrameTypes } from '../protocol/client-frames.ts';
import { LatencyHistogram } from './latency-histogram.ts';

/**
 * What the relay counts on its hot path, as plain numbers: no labels are
 * looked up and no metric objects touched per frame. The metrics endpoint
 * (metrics-registry.ts) reads them when it is scraped. One instance per
 * process, made in main.ts.
 */
export interface RelayCounters {
  /** Decoded client frames, by type (prefilled, so the object keeps one shape). */
  framesIn: Record<string, number>;
  /** Frames that did not decode (invalid_frame, invalid_message, unknown_type). */
  garbageIn: number;
  /** Socket closes, by close code. */
  closes: Map<number, number>;
  /** From a stored frame's arrival to its sent_ack, in seconds. */
  sentAck: LatencyHistogram;
  /** Group-commit batches: operations per batch, and commit time in seconds. */
  batchOps: LatencyHistogram;
  commitSeconds: LatencyHistogram;
  /** Approval flow outcomes, by `action:outcome` (register:pending, approve:wrong_code, ...). */
  approvals: Map<string, number>;
  /** Upgrades refused before a socket opened, by HTTP status. */
  upgradesRefused: Map<number, number>;
  /** Admin API requests, by `action:outcome` (kick_device:ok, none:unauthorized, ...). */
  admin: Map<string, number>;
}

export function newRelayCounters(): RelayCounters {
  const framesIn: Record<string, number> = {};
  for (const t of clientFrameTypes) framesIn[t] = 0;
  return {
    framesIn,
    garbageIn: 0,
    closes: new Map(),
    sentAck: new LatencyHistogram([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]),
    batchOps: new LatencyHistogram([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000]),
    commitSeconds: new LatencyHistogram([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5]),
    approvals: new Map(),
    upgradesRefused: new Map(),
    admin: new Map(),
  };
}

/** Adds one to a counter of a map. */
export function bump<K>(m: Map<K, number>, key: K): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}
