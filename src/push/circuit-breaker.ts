/**
 * One breaker per push service (an origin, or the webhook). After
 * `threshold` failures in a row it opens: calls to that service are not
 * made for `coolMs`, so a dead endpoint costs a counter instead of a
 * request and a timeout per device. Then one trial call goes through; its
 * success closes the breaker, its failure opens it again. Time is passed
 * in, so the decisions are testable without waiting.
 */
export class CircuitBreaker {
  private readonly services = new Map<string, { failures: number; openUntil: number; trial: boolean }>();

  constructor(
    private readonly threshold: number,
    private readonly coolMs: number,
  ) {}

  /** Whether a call to `service` may be made now; while half-open, only the first caller gets true. */
  allow(service: string, now: number): boolean {
    const s = this.services.get(service);
    if (!s || s.failures < this.threshold) return true;
    if (now < s.openUntil || s.trial) return false;
    s.trial = true;
    return true;
  }

  /** When calls to `service` may be tried again (now, when it is closed). */
  reopensAt(service: string, now: number): number {
    const s = this.services.get(service);
    return s && s.failures >= this.threshold ? Math.max(now, s.openUntil) : now;
  }

  succeeded(service: string): void {
    this.services.delete(service);
  }

  failed(service: string, now: number): void {
    const s = this.services.get(service) ?? { failures: 0, openUntil: 0, trial: false };
    s.failures++;
    s.trial = false;
    if (s.failures >= this.threshold) s.openUntil = now + this.coolMs;
    this.services.set(service, s);
  }

  /** Services whose breaker is open now. */
  openCount(now: number): number {
    let n = 0;
    for (const s of this.services.values()) if (s.failures >= this.threshold && now < s.openUntil) n++;
    return n;
  }
}

/** The wait before retry `attempt` (1-based): doubling from `baseMs`, capped, with up to a quarter of jitter (`random` in [0, 1)). */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random: number): number {
  const d = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(d * (1 - random / 4));
}
