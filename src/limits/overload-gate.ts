import type { Config } from '../config/config.ts';
import type { Logger } from '../util/logger.ts';
import { idleShedState, observeLag, type ShedRule, type ShedState } from './load-shedding.ts';

/** How often the loop is sampled: often enough to see a late loop within a few hundred ms, rarely enough to cost nothing. */
export const SAMPLE_MS = 50;

/**
 * The rule from the configuration. The rates were chosen against the
 * 1:1-pairs load at 40k msg/s offered on one core, about 1.5 times what
 * the relay serves there: the share rises within a second, falls to near
 * the share last found too small within a second or two, then probes
 * below it by 0.05 a second.
 */
export function shedRule(c: Pick<Config, 'OVERLOAD_LAG_MS' | 'OVERLOAD_SUSTAIN_MS'>): ShedRule {
  return { lagMs: c.OVERLOAD_LAG_MS, sustainMs: c.OVERLOAD_SUSTAIN_MS, minLateSamples: 3, risePerSecond: 1, fallPerSecond: 0.5, probePerSecond: 0.05, rememberMs: 10_000 };
}

export interface OverloadStats {
  /** Share of new stored frames and new connections being refused, 0 to 1. */
  shedding: number;
  /** How late the last sample ran, ms. */
  loopLagMs: number;
  /** Stored frames refused since start. */
  refusedFrames: number;
  /** WebSocket upgrades refused since start. */
  refusedUpgrades: number;
}

/** Spreads refusals evenly: a share of 0.25 refuses exactly every fourth request. */
class Spread {
  private credit = 0;
  refused = 0;

  admit(share: number): boolean {
    if (share === 0) return true;
    this.credit += share;
    if (this.credit < 1) return true;
    this.credit -= 1;
    this.refused++;
    return false;
  }

  reset(): void {
    this.credit = 0;
  }
}

/**
 * The node's admission gate for new stored frames and new connections
 * (load-shedding.ts decides the share; both get the same one). A new
 * connection costs the node more than a message (token verification, the
 * device record, a backlog read, a presence lease), and the load that
 * overwhelms a node is often a crowd reconnecting after another node went
 * away, so a node that refuses messages refuses the same share of
 * upgrades. `admit` is on the hot path: one comparison while the node
 * keeps up. Refusals are spread evenly (a share of 0.25 refuses every
 * fourth), so no device is singled out and a client's retry meets the
 * share of that moment.
 *
 * `now` is a monotonic clock in ms; `sample` is public so that tests can
 * drive the gate without a timer.
 */
export class OverloadGate {
  private state: ShedState;
  private readonly frames = new Spread();
  private readonly upgrades = new Spread();
  private lastLag = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly rule: ShedRule,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {
    this.state = idleShedState(now());
  }

  /** True while the node refuses a share of new work. */
  get shedding(): boolean {
    return this.state.fraction > 0;
  }

  /** Whether a new stored frame may go ahead; false means answer it with `overloaded`. */
  admit(): boolean {
    return this.frames.admit(this.state.fraction);
  }

  /** Whether a new WebSocket upgrade may go ahead; false means answer it with HTTP 503. */
  admitUpgrade(): boolean {
    return this.upgrades.admit(this.state.fraction);
  }

  /** Feeds one sample: the loop ran `lagMs` late at `at`. */
  sample(lagMs: number, at = this.now()): void {
    const before = this.state.fraction;
    this.state = observeLag(this.state, lagMs, at, this.rule);
    this.lastLag = lagMs;
    const after = this.state.fraction;
    if (before === 0 && after > 0) this.log.warn('overloaded: refusing a share of new stored frames and connections', { loopLagMs: Math.round(lagMs) });
    else if (before > 0 && after === 0) {
      this.frames.reset();
      this.upgrades.reset();
      this.log.info('no longer overloaded', { refusedFrames: this.frames.refused, refusedUpgrades: this.upgrades.refused });
    }
  }

  /** Samples the loop every SAMPLE_MS until `stop`; the timer does not keep the process alive. */
  start(): void {
    const tick = (due: number) => {
      this.timer = setTimeout(() => {
        const at = this.now();
        this.sample(Math.max(0, at - due), at);
        tick(at + SAMPLE_MS);
      }, SAMPLE_MS);
      this.timer.unref();
    };
    tick(this.now() + SAMPLE_MS);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  stats(): OverloadStats {
    return { shedding: this.state.fraction, loopLagMs: this.lastLag, refusedFrames: this.frames.refused, refusedUpgrades: this.upgrades.refused };
  }
}
