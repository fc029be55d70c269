/**
 * Admission control for stored frames, decided from how late the event
 * loop runs. Pure: the gate (overload-gate.ts) samples the loop and keeps
 * the state; this decides what share of new work (stored frames, and
 * connections) to refuse.
 *
 * Why the loop's lateness: every frame, ack and timer of the node runs on
 * it, so when frames arrive faster than the node can handle them, its
 * timers fire late by the work queued in front of them. Measured on this
 * relay (1:1 pairs, one core): in closed loop at saturation, and at 20k
 * msg/s offered, timers ran under 1 ms late at the median and 15 ms at
 * most; past its capacity every timer ran 100 to 400 ms late. A node that
 * takes everything then only queues: before this gate, at 40k offered,
 * half the messages waited over half a second (the write queue and the
 * per-device inbox refused the rest).
 *
 * Guarantees:
 * - One late sample never starts shedding, however late: a pause of the
 *   whole process (a stop, a long collection, a blocking call) is not
 *   overload. Shedding starts only after `minLateSamples` late samples in a
 *   row spanning at least `sustainMs`, except within `rememberMs` of the
 *   end of the last shedding, when the load that caused it is likely back.
 * - Once shedding, the share follows the lateness (see `observeLag`) and
 *   shedding ends when it reaches zero.
 * - Only new stored frames and new connections are refused (the gate
 *   applies the share to both): acks, which lighten the load, and every
 *   other frame go through. A refused frame was not stored, so nothing
 *   acked is lost, and the client sends it again with the same id.
 */
export interface ShedRule {
  /** A sample later than this counts as late. */
  lagMs: number;
  /** Lateness must last this long before the first frame is refused. */
  sustainMs: number;
  /** Late samples in a row needed besides `sustainMs`. */
  minLateSamples: number;
  /** Share added per second of late samples that are no earlier than the one before. */
  risePerSecond: number;
  /** Share removed per second of on-time samples, well above the share last found too small. */
  fallPerSecond: number;
  /** Share removed per second of on-time samples near the share last found too small (probing for a smaller one). */
  probePerSecond: number;
  /** How long the share last found too small is remembered; lateness within this after shedding ends starts it again at once. */
  rememberMs: number;
}

export interface ShedState {
  /** Share of stored frames to refuse, 0 to 1. */
  fraction: number;
  /** The share at which the loop last turned late while shedding: too small for the load of that moment. */
  tooSmall: number;
  /** When the loop was last late while shedding (or when shedding began). */
  lateAt: number;
  /** When the current run of late samples began (while not yet shedding). */
  lateSince: number | undefined;
  lateSamples: number;
  /** When the previous sample was taken, and how late it was. */
  lastAt: number;
  lastLag: number;
}

export const idleShedState = (now: number): ShedState => ({ fraction: 0, tooSmall: 0, lateAt: -Infinity, lateSince: undefined, lateSamples: 0, lastAt: now, lastLag: 0 });

/** A gap longer than this between samples counts as this much (a stalled process is not evidence of load). */
const MAX_STEP_MS = 500;
/** Above the share last found too small by more than this, the share falls fast. */
const MARGIN = 0.05;
/** On time this long while shedding, the share has settled: lateness after that says it is too small. */
const SETTLED_MS = 1000;

/**
 * The next state after a sample that ran `lagMs` late at `now`.
 *
 * While shedding:
 * - A late sample raises the share, unless it is less late than the one
 *   before: the loop is then working off what queued up before the share
 *   was large enough, and raising it further would overshoot.
 * - A late sample after a second on time marks the share of that moment
 *   as too small. On-time samples lower the share fast down to just
 *   above that mark, then slowly, probing for a smaller share, so that the
 *   node settles near the share it needs instead of swinging past it (a
 *   node just past its capacity turns late within a few hundred ms, so
 *   each swing below the share it needs costs a burst of queueing).
 * - The mark is forgotten `rememberMs` after the last lateness.
 */
export function observeLag(prev: ShedState, lagMs: number, now: number, rule: ShedRule): ShedState {
  const dt = Math.min(MAX_STEP_MS, Math.max(0, now - prev.lastAt)) / 1000;
  const next: ShedState = { ...prev, lastAt: now, lastLag: lagMs, lateSince: undefined, lateSamples: 0 };
  const remembered = now - prev.lateAt < rule.rememberMs;
  if (lagMs <= rule.lagMs) {
    const near = remembered && prev.tooSmall > 0 && prev.fraction <= prev.tooSmall + MARGIN;
    next.fraction = Math.max(0, prev.fraction - (near ? rule.probePerSecond : rule.fallPerSecond) * dt);
    return next;
  }
  if (prev.fraction > 0 || remembered) {
    // Late again after a settled second: the share of that moment was too small for the load.
    if (now - prev.lateAt >= SETTLED_MS) next.tooSmall = prev.fraction;
    if (prev.fraction === 0 || lagMs >= prev.lastLag) next.fraction = Math.min(1, prev.fraction + rule.risePerSecond * dt);
    next.lateAt = now;
    return next;
  }
  const lateSince = prev.lateSince ?? now;
  const lateSamples = prev.lateSamples + 1;
  if (lateSamples >= rule.minLateSamples && now - lateSince >= rule.sustainMs) {
    // The first step is one sample's worth: the share then grows only while the loop stays late.
    return { ...next, fraction: Math.min(1, rule.risePerSecond * dt), tooSmall: 0, lateAt: now };
  }
  return { ...next, lateSince, lateSamples };
}
