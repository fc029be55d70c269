import { describe, expect, it } from 'vitest';
import { idleShedState, observeLag, type ShedRule, type ShedState } from '../../src/limits/load-shedding.ts';
import { OverloadGate } from '../../src/limits/overload-gate.ts';
import { createLogger } from '../../src/util/logger.ts';

const rule: ShedRule = { lagMs: 50, sustainMs: 1000, minLateSamples: 3, risePerSecond: 1, fallPerSecond: 0.5, probePerSecond: 0.05, rememberMs: 10_000 };

/** Feeds samples `everyMs` apart, each `lagMs` late, from `state` at `from`; returns the state and the time after. */
function run(state: ShedState, from: number, count: number, everyMs: number, lagMs: number): { state: ShedState; at: number } {
  let at = from;
  for (let i = 0; i < count; i++) {
    at += everyMs;
    state = observeLag(state, lagMs, at, rule);
  }
  return { state, at };
}

/** Shedding just begun: eleven samples 110 ms apart, 60 ms late (the run starts at 110 and spans a second at 1210). */
const started = () => run(idleShedState(0), 0, 11, 110, 60);

describe('load shedding decisions', () => {
  it('sheds nothing after one late sample, however late (a paused process is not overload)', () => {
    const s = observeLag(idleShedState(0), 30_000, 30_050, rule);
    expect(s.fraction).toBe(0);
    // Back on time afterwards: nothing was carried over.
    expect(run(s, 30_050, 40, 50, 0).state).toMatchObject({ fraction: 0, lateSamples: 0, lateSince: undefined });
  });

  it('sheds nothing while late samples do not yet span sustainMs, or are too few', () => {
    // Ten samples late by 60 ms, 110 ms apart: 990 ms of lateness.
    expect(run(idleShedState(0), 0, 10, 110, 60).state.fraction).toBe(0);
    // Two samples a whole second apart: enough time, too few samples.
    expect(run(idleShedState(0), 0, 2, 1200, 60).state.fraction).toBe(0);
  });

  it('an on-time sample restarts the count', () => {
    let { state, at } = run(idleShedState(0), 0, 8, 110, 60);
    state = observeLag(state, 10, (at += 50), rule);
    ({ state } = run(state, at, 8, 110, 60));
    expect(state.fraction).toBe(0);
  });

  it('starts with one sample worth of share once lateness is sustained, and grows it while the loop gets no earlier', () => {
    let { state, at } = started();
    expect(state.fraction).toBeCloseTo(0.11, 5);
    ({ state, at } = run(state, at, 2, 110, 60));
    expect(state.fraction).toBeCloseTo(0.33, 5);
    ({ state } = run(state, at, 10, 110, 80));
    expect(state.fraction).toBe(1);
  });

  it('holds the share while the loop is late but catching up', () => {
    let { state, at } = started();
    ({ state, at } = run(state, at, 1, 110, 400));
    const held = state.fraction;
    for (const lag of [300, 200, 120, 90]) state = observeLag(state, lag, (at += 110), rule);
    expect(state.fraction).toBe(held);
  });

  it('falls fast down to near the share last found too small, then probes below it slowly', () => {
    let { state, at } = started();
    // Grow it to 0.66, then 1.2 s on time brings it down by 0.5/s.
    ({ state, at } = run(state, at, 5, 110, 60));
    expect(state.fraction).toBeCloseTo(0.66, 5);
    ({ state, at } = run(state, at, 24, 50, 0));
    expect(state.fraction).toBeCloseTo(0.06, 5);
    // Late again after a settled second: 0.06 was too small. The share grows again to 0.61.
    ({ state, at } = run(state, at, 5, 110, 60));
    expect(state.tooSmall).toBeCloseTo(0.06, 5);
    expect(state.fraction).toBeCloseTo(0.61, 5);
    // On time: fast while above 0.11 (1 s brings it to 0.11), then 0.05/s.
    ({ state, at } = run(state, at, 20, 50, 0));
    expect(state.fraction).toBeCloseTo(0.11, 5);
    ({ state, at } = run(state, at, 20, 50, 0));
    expect(state.fraction).toBeCloseTo(0.06, 5);
  });

  it('after shedding ends, lateness restarts it at once for rememberMs, then needs sustaining again', () => {
    let { state, at } = started();
    ({ state, at } = run(state, at, 10, 50, 0));
    expect(state.fraction).toBe(0);
    expect(observeLag(state, 60, at + 50, rule).fraction).toBeCloseTo(0.05, 5);
    // Ten seconds after the last lateness (at 1210) it is forgotten.
    ({ state } = run(state, at, 200, 50, 0));
    expect(observeLag(state, 60, 11_300, rule).fraction).toBe(0);
  });

  it('weighs a long gap between samples as at most half a second', () => {
    const { state, at } = started();
    expect(observeLag(state, 60, at + 5000, rule).fraction).toBeCloseTo(state.fraction + 0.5, 5);
    expect(observeLag(state, 0, at + 60_000, { ...rule, fallPerSecond: 0.1 }).fraction).toBeCloseTo(state.fraction - 0.05, 5);
  });
});

describe('overload gate', () => {
  const quiet = createLogger('silent');

  it('admits everything while on time, and spreads refusals evenly by the share', () => {
    let now = 0;
    const gate = new OverloadGate(rule, () => now, quiet);
    for (let i = 0; i < 100; i++) expect(gate.admit()).toBe(true);
    for (let i = 0; i < 11; i++) gate.sample(60, (now += 110));
    const share = gate.stats().shedding;
    expect(share).toBeCloseTo(0.11, 5);
    const answers = Array.from({ length: 1000 }, () => gate.admit());
    const refused = answers.filter((a) => !a).length;
    expect(Math.abs(refused - 1000 * share)).toBeLessThanOrEqual(1);
    // Never two refusals in a row below a share of one half.
    expect(answers.some((a, i) => !a && answers[i + 1] === false)).toBe(false);
    expect(gate.stats()).toMatchObject({ refusedFrames: refused, refusedUpgrades: 0, loopLagMs: 60 });
    // Upgrades get the same share, counted on their own.
    const upgrades = Array.from({ length: 1000 }, () => gate.admitUpgrade()).filter((a) => !a).length;
    expect(Math.abs(upgrades - 1000 * share)).toBeLessThanOrEqual(1);
    expect(gate.stats()).toMatchObject({ refusedFrames: refused, refusedUpgrades: upgrades });
  });

  it('refuses every stored frame and upgrade at a share of one, and admits all again once the loop is back on time', () => {
    let now = 0;
    const gate = new OverloadGate(rule, () => now, quiet);
    for (let i = 0; i < 20; i++) gate.sample(200, (now += 250));
    expect(gate.stats().shedding).toBe(1);
    expect([gate.admit(), gate.admit(), gate.admitUpgrade()]).toEqual([false, false, false]);
    for (let i = 0; i < 80; i++) gate.sample(1, (now += 50));
    expect(gate.stats().shedding).toBe(0);
    expect([gate.admit(), gate.admit(), gate.admitUpgrade()]).toEqual([true, true, true]);
  });
});
