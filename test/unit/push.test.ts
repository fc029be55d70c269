import { describe, expect, it } from 'vitest';
import { committedEntry } from '../../src/delivery/queue-entry.ts';
import { CircuitBreaker, retryDelay } from '../../src/push/circuit-breaker.ts';
import { PushDispatcher, type PushDispatcherOptions } from '../../src/push/push-dispatcher.ts';
import { outcomeOf, type SendOutcome } from '../../src/push/push-sender.ts';
import { newPushStats } from '../../src/push/push-stats.ts';
import { endpointAllowed, DEFAULT_PUSH_ORIGINS, type PushJob } from '../../src/push/push-target.ts';
import { createLogger } from '../../src/util/logger.ts';

describe('push decisions', () => {
  it('allows endpoints only at listed push services', () => {
    expect(endpointAllowed('https://fcm.googleapis.com/fcm/send/abc', DEFAULT_PUSH_ORIGINS)).toBe(true);
    expect(endpointAllowed('https://wns2-par02p.notify.windows.com/w/?token=x', DEFAULT_PUSH_ORIGINS)).toBe(true);
    expect(endpointAllowed('https://notify.windows.com.evil.example/x', DEFAULT_PUSH_ORIGINS)).toBe(false);
    expect(endpointAllowed('https://fcm.googleapis.com:8443/x', DEFAULT_PUSH_ORIGINS)).toBe(false);
    expect(endpointAllowed('http://fcm.googleapis.com/x', DEFAULT_PUSH_ORIGINS)).toBe(false);
    expect(endpointAllowed('https://user:pw@fcm.googleapis.com/x', DEFAULT_PUSH_ORIGINS)).toBe(false);
    expect(endpointAllowed('http://localhost:8090/notify/x', ['http://localhost:8090'])).toBe(true);
    expect(endpointAllowed('http://localhost:8091/notify/x', ['http://localhost:8090'])).toBe(false);
    expect(endpointAllowed('not a url', DEFAULT_PUSH_ORIGINS)).toBe(false);
  });

  it('reads HTTP statuses as outcomes', () => {
    expect([200, 201, 404, 410, 429, 408, 500, 503, 400, 403, 301].map(outcomeOf)).toEqual(['sent', 'sent', 'gone', 'gone', 'retry', 'retry', 'retry', 'retry', 'rejected', 'rejected', 'rejected']);
  });

  it('opens a breaker after the threshold, lets one trial through after the cool-down, and closes on success', () => {
    const b = new CircuitBreaker(3, 1000);
    for (let i = 0; i < 3; i++) {
      expect(b.allow('s', 0)).toBe(true);
      b.failed('s', 0);
    }
    expect(b.allow('s', 500)).toBe(false);
    expect(b.reopensAt('s', 500)).toBe(1000);
    expect(b.allow('other', 500)).toBe(true);
    expect(b.openCount(500)).toBe(1);
    expect(b.allow('s', 1000)).toBe(true);
    expect(b.allow('s', 1000)).toBe(false);
    b.failed('s', 1000);
    expect(b.allow('s', 1500)).toBe(false);
    expect(b.allow('s', 2000)).toBe(true);
    b.succeeded('s');
    expect(b.allow('s', 2000)).toBe(true);
    expect(b.openCount(2000)).toBe(0);
  });

  it('doubles retry waits up to the cap, less up to a quarter', () => {
    expect([1, 2, 3, 4, 10].map((n) => retryDelay(n, 1000, 5000, 0))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(retryDelay(2, 1000, 5000, 0.5)).toBe(1750);
  });
});

describe('the push dispatcher', () => {
  const entry = (user: string, kind: 'deliver' | 'status_update' = 'deliver') => {
    return committedEntry({ recipientUser: user, recipientDevice: 'phone', dedupKey: `k-${user}`, messageId: 'm', kind, senderUser: 's', senderDevice: 'd', frame: '{}', createdAt: new Date(0) });
  };

  function setup(outcomes: SendOutcome[], over: Partial<PushDispatcherOptions> = {}) {
    let now = 0;
    const sent: string[] = [];
    const removed: string[] = [];
    const claims: string[][] = [];
    const stats = newPushStats();
    const d = new PushDispatcher({
      store: {
        claim: async (devices) => {
          claims.push(devices.map((x) => x.user));
          return devices.map((x): PushJob => ({ user: x.user, device: x.device, target: { kind: 'webhook', token: `t-${x.user}` }, waiting: 1 }));
        },
        remove: async (user) => {
          removed.push(user);
          return true;
        },
      },
      senders: {
        webhook: {
          service: () => 'webhook',
          send: async (job) => {
            sent.push(job.user);
            return outcomes.shift() ?? 'sent';
          },
        },
      },
      isLocal: (user) => user === 'here',
      liveDevices: async (user) => new Set(user === 'elsewhere' ? ['phone'] : []),
      now: () => now,
      random: () => 0,
      log: createLogger('silent'),
      stats,
      coalesceMs: 60_000,
      delayMs: 100,
      queueMax: 10,
      concurrency: 4,
      attempts: 3,
      retryBaseMs: 1000,
      retryMaxMs: 10_000,
      breakerThreshold: 2,
      breakerCoolMs: 5000,
      lookupTimeoutMs: 1000,
      ...over,
    });
    const run = async (at: number) => {
      now = at;
      await d.pass();
      await d.settled();
    };
    return { d, sent, removed, claims, stats, run };
  }

  it('waits out the delay, skips receipts and devices connected here or elsewhere, and claims the rest in one statement', async () => {
    const t = setup([]);
    t.d.note([entry('bob'), entry('carol'), entry('here'), entry('elsewhere'), entry('dan', 'status_update'), entry('bob')]);
    await t.run(50);
    expect(t.claims).toEqual([]);
    await t.run(100);
    expect(t.claims).toEqual([['bob', 'carol']]);
    expect(t.sent.sort()).toEqual(['bob', 'carol']);
    expect(t.stats).toMatchObject({ queued: 3, skippedOnline: 1, claimed: 2, sent: 2 });
  });

  it('forgets a device that connects before its turn', async () => {
    const t = setup([]);
    t.d.note([entry('bob')]);
    t.d.connected('bob', 'phone');
    await t.run(1000);
    expect(t.claims).toEqual([]);
  });

  it('retries with backoff, gives up after the last attempt, and drops a retry once the device connects', async () => {
    const t = setup(['retry', 'retry', 'retry'], { breakerThreshold: 10 });
    t.d.note([entry('bob')]);
    await t.run(100);
    await t.run(1099);
    expect(t.sent).toEqual(['bob']);
    await t.run(1100);
    expect(t.sent).toEqual(['bob', 'bob']);
    await t.run(3100);
    expect(t.sent).toEqual(['bob', 'bob', 'bob']);
    expect(t.stats).toMatchObject({ retried: 2, failed: 1 });
    expect(t.d.size()).toBe(0);

    const u = setup(['retry']);
    u.d.note([entry('carol')]);
    await u.run(100);
    u.d.connected('carol', 'phone');
    await u.run(5000);
    expect(u.sent).toEqual(['carol']);
  });

  it('removes a target the service calls gone', async () => {
    const t = setup(['gone']);
    t.d.note([entry('bob')]);
    await t.run(100);
    expect(t.removed).toEqual(['bob']);
    expect(t.stats.gone).toBe(1);
  });

  it('holds pushes while the breaker is open and sends them when it lets a trial through', async () => {
    const t = setup(['retry', 'retry'], { concurrency: 1, attempts: 5 });
    t.d.note([entry('a'), entry('b'), entry('c')]);
    await t.run(100);
    // a and b failed (the threshold); c was held without a request.
    expect(t.sent).toEqual(['a', 'b']);
    expect(t.stats.heldByBreaker).toBe(1);
    expect(t.d.openBreakers()).toBe(1);
    await t.run(5100);
    expect(t.sent.slice(2).sort()).toContain('c');
  });

  it('drops new devices once the queue is full, and counts them', async () => {
    const t = setup([], { queueMax: 2 });
    t.d.note([entry('a'), entry('b'), entry('c')]);
    expect(t.stats).toMatchObject({ queued: 2, droppedFull: 1 });
  });
});
