import webpush from 'web-push';
import type { PushJob, PushTarget } from './push-target.ts';
import { postWithDeadline, wakePayload, type PushSender, type SendOutcome } from './push-sender.ts';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  /** A `mailto:` or `https:` URL the push service can reach the operator at. */
  subject: string;
}

/**
 * Web Push (RFC 8030) with VAPID (RFC 8292), its payload encrypted to the
 * browser's keys (RFC 8291, aes128gcm) by the web-push library. The
 * library builds the request; it is sent here with fetch, so that one
 * deadline covers it and a plain-http test service works too.
 */
export class WebPushSender implements PushSender {
  constructor(
    private readonly vapid: VapidKeys,
    private readonly timeoutMs: number,
    /** Seconds a push service keeps an undelivered push: past that a wake is stale. */
    private readonly ttlSeconds: number,
  ) {}

  service(target: PushTarget): string {
    return target.kind === 'webpush' ? new URL(target.endpoint).origin : 'webpush';
  }

  async send(job: PushJob): Promise<SendOutcome> {
    if (job.target.kind !== 'webpush') return 'rejected';
    const t = job.target;
    let details: ReturnType<typeof webpush.generateRequestDetails>;
    try {
      details = webpush.generateRequestDetails({ endpoint: t.endpoint, keys: { p256dh: t.p256dh, auth: t.auth } }, wakePayload(job), {
        vapidDetails: this.vapid,
        TTL: this.ttlSeconds,
        urgency: 'high',
        // One topic for every wake: a service holding an undelivered wake replaces it with the newer one.
        topic: 'wake',
      });
    } catch {
      // Keys the library cannot encrypt to: no later attempt would do better.
      return 'rejected';
    }
    return postWithDeadline(details.endpoint, { headers: details.headers as Record<string, string>, body: details.body as Buffer }, this.timeoutMs);
  }
}

export const generateVapidKeys = (): { publicKey: string; privateKey: string } => webpush.generateVAPIDKeys();
