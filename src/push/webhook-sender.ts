import { createHmac } from 'node:crypto';
import type { PushJob, PushTarget } from './push-target.ts';
import { postWithDeadline, type PushSender, type SendOutcome } from './push-sender.ts';

/** Header names of a webhook push (docs/push.md). */
const WEBHOOK_TIMESTAMP_HEADER = 'x-relay-timestamp';
const WEBHOOK_SIGNATURE_HEADER = 'x-relay-signature';

/**
 * The signature of a webhook push: HMAC-SHA256 under the shared secret
 * over `timestamp + "." + body`, hex, prefixed `v1=`. The timestamp is in
 * the signed bytes so that a captured request cannot be replayed once the
 * receiver's window has passed.
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * POSTs `{"token": ..., "count": n}` to the operator's push service, which
 * turns it into an APNs or FCM push. The relay knows nothing of either.
 */
export class WebhookSender implements PushSender {
  constructor(
    private readonly url: string,
    private readonly secret: string,
    private readonly timeoutMs: number,
    private readonly now: () => number,
  ) {}

  service(_target: PushTarget): string {
    return 'webhook';
  }

  async send(job: PushJob): Promise<SendOutcome> {
    if (job.target.kind !== 'webhook') return 'rejected';
    const timestamp = Math.floor(this.now() / 1000);
    const body = JSON.stringify({ token: job.target.token, count: job.waiting });
    return postWithDeadline(
      this.url,
      {
        headers: {
          'content-type': 'application/json',
          [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
          [WEBHOOK_SIGNATURE_HEADER]: signWebhook(this.secret, timestamp, body),
        },
        body,
      },
      this.timeoutMs,
    );
  }
}
