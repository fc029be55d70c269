import { SignJWT } from 'jose';
import { CHAOS_SECRET } from './chaos-cluster.ts';

const key = new TextEncoder().encode(CHAOS_SECRET);

/** A day-long token for a run's device, signed with the secret the run's relays are started with. */
export function chaosToken(user: string, device: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: user, did: device, iat: now - 1, exp: now + 24 * 3600 }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
}

/** What the clients saw (close codes, refused upgrades, error codes), counted for the report. */
export function seenCounter(): { bump(what: string): void; describe(): string } {
  const counts = new Map<string, number>();
  return {
    bump: (what) => counts.set(what, (counts.get(what) ?? 0) + 1),
    describe: () =>
      [...counts]
        .sort()
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ') || 'nothing',
  };
}
