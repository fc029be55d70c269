import type { PushStats } from '../../src/push/push-stats.ts';

export type PushHealth = PushStats & { queue: number; open_breakers: number };

/** The push dispatcher's counters from a relay's /healthz. */
export async function pushHealth(port: number): Promise<PushHealth> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return ((await res.json()) as { push: PushHealth }).push;
}
