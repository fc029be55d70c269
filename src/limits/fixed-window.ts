/**
 * Fixed-window counting, shared by the stored rate limits. Pure: given the
 * counter after this hit, is the hit allowed, and when may the caller retry?
 */
export interface WindowVerdict {
  allowed: boolean;
  retryAfterSeconds: number;
}

export function windowVerdict(count: number, windowStart: number, now: number, windowMs: number, limit: number): WindowVerdict {
  if (count <= limit) return { allowed: true, retryAfterSeconds: 0 };
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000)) };
}
