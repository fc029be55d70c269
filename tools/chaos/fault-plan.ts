/**
 * What a chaos run does to the cluster, and when: a pure function of the
 * run's length, its seed and the number of nodes, so a run that found
 * something can be repeated exactly (`--seed`).
 */
export type FaultKind =
  | 'node_kill' // SIGKILL a relay node, start it again
  | 'node_pause' // SIGSTOP a relay node, SIGCONT it
  | 'node_drain' // SIGTERM a relay node (staged drain), start it again
  | 'redis_kill' // SIGKILL Redis, start it again (it keeps nothing)
  | 'redis_pause' // SIGSTOP Redis, SIGCONT it
  | 'postgres_stop' // immediate shutdown of Postgres, start it again
  | 'postgres_pause' // SIGSTOP every Postgres process, SIGCONT them
  | 'slow_consumer' // one receiver stops reading its socket
  | 'reconnect_storm'; // every client drops its socket at the same moment

export const faultKinds: readonly FaultKind[] = ['node_kill', 'node_pause', 'node_drain', 'redis_kill', 'redis_pause', 'postgres_stop', 'postgres_pause', 'slow_consumer', 'reconnect_storm'];

export interface Fault {
  kind: FaultKind;
  /** When it starts, in ms from the start of the traffic. */
  at: number;
  /** How long the component stays down, stalled or slow, in ms (0 for the storm). */
  downMs: number;
  /** The node (or, for slow_consumer, the pair) it hits. */
  target: number;
}

export interface PlanOptions {
  /** How long traffic runs, in ms. Faults start after a calm first tenth and end before the last tenth. */
  durationMs: number;
  seed: number;
  nodes: number;
  pairs: number;
  /** The gap between the end of one fault and the start of the next, in ms, so that each recovery can be timed. */
  gapMs: number;
}

/** A small seeded generator (mulberry32): the same seed gives the same plan on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const downRange: Record<FaultKind, [number, number]> = {
  node_kill: [1000, 3000],
  node_pause: [2000, 5000],
  node_drain: [500, 1500],
  redis_kill: [1000, 4000],
  redis_pause: [2000, 5000],
  postgres_stop: [1000, 3000],
  postgres_pause: [2000, 5000],
  slow_consumer: [3000, 6000],
  reconnect_storm: [0, 0],
};

/**
 * One fault at a time, one after another with `gapMs` of calm between
 * them. Every kind comes once, in a seeded order, before any comes twice,
 * so a run long enough for nine faults has hit each component.
 */
export function planFaults(o: PlanOptions): Fault[] {
  const random = seededRandom(o.seed);
  const start = o.durationMs / 10;
  const end = o.durationMs - o.durationMs / 10;
  const faults: Fault[] = [];
  let bag: FaultKind[] = [];
  let at = start;
  for (;;) {
    if (bag.length === 0) bag = shuffle([...faultKinds], random);
    const kind = bag.pop()!;
    const [lo, hi] = downRange[kind];
    const downMs = Math.round(lo + random() * (hi - lo));
    if (at + downMs > end) break;
    const target = Math.floor(random() * (kind === 'slow_consumer' ? o.pairs : o.nodes));
    faults.push({ kind, at: Math.round(at), downMs, target });
    at += downMs + o.gapMs;
  }
  return faults;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
