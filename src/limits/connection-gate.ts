import { fullBucket, isFull, take, type Bucket, type BucketRule } from './token-bucket.ts';

export interface GateRules {
  perIp: number;
  attempts: BucketRule;
}

export type GateVerdict = 'ok' | 'too_many_connections' | 'too_many_attempts';

/**
 * Per-address limits at the upgrade, counted on this node: open sockets
 * per IP and upgrade attempts per IP (a token bucket). Checked before any
 * token is verified, so a flood costs a map lookup, not a signature check.
 * Idle buckets are dropped by `sweep`, so memory follows the active
 * addresses only.
 */
export class ConnectionGate {
  private readonly open = new Map<string, number>();
  private readonly attempts = new Map<string, Bucket>();

  constructor(private readonly rules: GateRules) {}

  attempt(ip: string, now: number): GateVerdict {
    let b = this.attempts.get(ip);
    if (!b) this.attempts.set(ip, (b = fullBucket(this.rules.attempts, now)));
    if (!take(b, this.rules.attempts, now).ok) return 'too_many_attempts';
    if ((this.open.get(ip) ?? 0) >= this.rules.perIp) return 'too_many_connections';
    return 'ok';
  }

  opened(ip: string): void {
    this.open.set(ip, (this.open.get(ip) ?? 0) + 1);
  }

  closed(ip: string): void {
    const n = (this.open.get(ip) ?? 1) - 1;
    if (n <= 0) this.open.delete(ip);
    else this.open.set(ip, n);
  }

  /** Forgets buckets that have refilled: they carry no information any more. */
  sweep(now: number): void {
    for (const [ip, b] of this.attempts) if (isFull(b, this.rules.attempts, now)) this.attempts.delete(ip);
  }
}
