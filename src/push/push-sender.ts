import type { PushJob, PushTarget } from './push-target.ts';

/**
 * What one push attempt came to:
 * - `sent`: the service took it;
 * - `gone`: the service says the target no longer exists (404, 410): the
 *   target is removed;
 * - `retry`: a timeout, a network error, a 5xx or a 429: tried again later;
 * - `rejected`: any other answer (a bad request, a key the service does not
 *   accept): dropped, since the same request would get the same answer.
 */
export type SendOutcome = 'sent' | 'gone' | 'retry' | 'rejected';

export interface PushSender {
  /** The service a target's pushes go to: one circuit breaker each. */
  service(target: PushTarget): string;
  send(job: PushJob): Promise<SendOutcome>;
}

/** The outcome an HTTP status stands for, for both kinds. */
export function outcomeOf(status: number): SendOutcome {
  if (status >= 200 && status < 300) return 'sent';
  if (status === 404 || status === 410) return 'gone';
  if (status === 429 || status >= 500 || status === 408) return 'retry';
  return 'rejected';
}

/** The only thing a push says: how many frames wait, and nothing about them. */
export const wakePayload = (job: PushJob): string => JSON.stringify({ type: 'wake', count: job.waiting });

/**
 * POSTs with a deadline and never throws: a hung endpoint is a `retry`
 * after `timeoutMs`, and the body of any answer is read and dropped so
 * that the connection can be reused.
 */
export async function postWithDeadline(url: string, init: { headers: Record<string, string>; body: string | Buffer }, timeoutMs: number): Promise<SendOutcome> {
  try {
    const res = await fetch(url, { method: 'POST', headers: init.headers, body: init.body, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.arrayBuffer().catch(() => undefined);
    return outcomeOf(res.status);
  } catch {
    return 'retry';
  }
}
