import { deviceKey, type QueueEntry, type StoredKind } from '../delivery/queue-entry.ts';
import { forEachLimited } from '../util/for-each-limited.ts';
import type { Logger } from '../util/logger.ts';
import { withTimeout } from '../util/with-timeout.ts';
import { CircuitBreaker, retryDelay } from './circuit-breaker.ts';
import type { PushSender } from './push-sender.ts';
import type { PushStats } from './push-stats.ts';
import type { DeviceRef } from './push-store.ts';
import type { PushJob, PushKind } from './push-target.ts';

/** Stored kinds worth waking a phone for. A receipt is not: it can wait for the next time the app opens. */
const WAKING_KINDS: ReadonlySet<StoredKind> = new Set(['deliver', 'media_key', 'sync_request', 'sync_data', 'sync_ack', 'device_approval_request']);
/** Devices looked at in one pass, at most (one claim statement). */
const PASS_MAX = 500;
/** Users whose leases are read at once during a pass. */
const LEASE_READS = 16;

export interface PushDispatcherOptions {
  store: { claim(devices: readonly DeviceRef[], now: number, windowStart: number): Promise<PushJob[]>; remove(user: string, device: string, only: PushJob['target']): Promise<boolean> };
  senders: Partial<Record<PushKind, PushSender>>;
  /** Whether the device has a socket on this node. */
  isLocal(user: string, device: string): boolean;
  /** The user's devices with a socket on any node (connection leases). */
  liveDevices(user: string, now: number): Promise<Set<string>>;
  now: () => number;
  random: () => number;
  log: Logger;
  stats: PushStats;
  /** One push per device per window while it stays offline. */
  coalesceMs: number;
  /** How long a committed entry waits before its device is looked at: time for an ack, or a connect, to land. */
  delayMs: number;
  /** Devices waiting to be pushed or retried, at most; past that new ones are dropped and counted. */
  queueMax: number;
  /** Push requests in flight at once. */
  concurrency: number;
  /** Attempts per push, the first included. */
  attempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  breakerThreshold: number;
  breakerCoolMs: number;
  /** Deadline of each database or lease call. */
  lookupTimeoutMs: number;
}

interface Due {
  user: string;
  device: string;
  at: number;
  /** Set for a retry: the push already claimed, and its attempt number. */
  retry?: { job: PushJob; attempt: number };
}

/**
 * Wakes offline devices, off the message path. The writer hands it each
 * batch of committed entries (`note`, a map insert per device); a timer
 * pass then takes the devices whose delay has passed, drops those
 * connected here or, by their connection leases, on any other node,
 * claims pushes for the rest in one statement (push-store.ts: the claim
 * is what makes one wake per window hold across nodes), and sends them
 * with a bounded number in flight. A failed attempt is retried with
 * backoff; a service that keeps failing trips its circuit breaker. A
 * device that connects is dropped from the queue.
 *
 * Nothing here is awaited by a sender of a message. When the lease store
 * cannot be read the device counts as offline: an extra wake of an
 * online device tells it nothing, a missing one leaves a phone silent.
 */
export class PushDispatcher {
  /** Devices to look at, by device key, in order of `at`. */
  private readonly due = new Map<string, Due>();
  /** Retries, by device key; their times are not in order, so each pass scans them (they are few). */
  private readonly retries = new Map<string, Due>();
  private readonly ready: { job: PushJob; attempt: number }[] = [];
  private readonly breaker: CircuitBreaker;
  private inflight = 0;
  private passRunning = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: PushDispatcherOptions) {
    this.breaker = new CircuitBreaker(o.breakerThreshold, o.breakerCoolMs);
  }

  start(tickMs = Math.max(50, Math.min(250, this.o.delayMs))): void {
    this.timer = setInterval(() => void this.pass(), tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Writer hook: committed entries for devices not connected here may need a wake. */
  note(entries: readonly QueueEntry[]): void {
    let at = 0;
    for (const e of entries) {
      if (e.state !== 'committed' || !WAKING_KINDS.has(e.kind) || this.due.has(e.recipientKey)) continue;
      if (this.o.isLocal(e.recipientUser, e.recipientDevice)) continue;
      if (this.size() >= this.o.queueMax) {
        this.o.stats.droppedFull++;
        continue;
      }
      at ||= this.o.now() + this.o.delayMs;
      this.due.set(e.recipientKey, { user: e.recipientUser, device: e.recipientDevice, at });
      this.o.stats.queued++;
    }
  }

  /** A device connected here: nothing waiting for it needs a wake any more. */
  connected(user: string, device: string): void {
    const key = deviceKey(user, device);
    this.due.delete(key);
    this.retries.delete(key);
  }

  /** Devices queued or waiting for a retry. */
  size(): number {
    return this.due.size + this.retries.size + this.ready.length;
  }

  /** Breakers open now (a gauge for the operator). */
  openBreakers(): number {
    return this.breaker.openCount(this.o.now());
  }

  /** One pass: take what is due, drop what is online, claim and send the rest. Exposed for tests. */
  async pass(): Promise<void> {
    if (this.passRunning) return;
    this.passRunning = true;
    try {
      const now = this.o.now();
      const taken = this.take(now);
      if (taken.length === 0) return;
      const offline = await this.offline(taken, now);
      const fresh = offline.filter((d) => !d.retry);
      for (const d of offline) if (d.retry) this.ready.push(d.retry);
      if (fresh.length > 0) {
        try {
          const jobs = await withTimeout(this.o.store.claim(fresh, now, now - this.o.coalesceMs), this.o.lookupTimeoutMs, 'push claim');
          this.o.stats.claimed += jobs.length;
          for (const job of jobs) this.ready.push({ job, attempt: 1 });
        } catch (err) {
          this.o.stats.lookupErrors++;
          this.o.log.warn('push claim failed; the devices are looked at again', { err, devices: fresh.length });
          for (const d of fresh) if (!this.due.has(deviceKey(d.user, d.device))) this.due.set(deviceKey(d.user, d.device), { ...d, at: now + this.o.delayMs });
        }
      }
      this.pump();
    } finally {
      this.passRunning = false;
    }
  }

  /** Resolves once nothing is being sent (tests and shutdown). */
  async settled(): Promise<void> {
    while (this.inflight > 0 || this.ready.length > 0 || this.passRunning) await new Promise((r) => setTimeout(r, 10));
  }

  private take(now: number): Due[] {
    const taken: Due[] = [];
    for (const [key, d] of this.due) {
      if (d.at > now || taken.length >= PASS_MAX) break;
      this.due.delete(key);
      taken.push(d);
    }
    for (const [key, d] of this.retries) {
      if (taken.length >= PASS_MAX) break;
      if (d.at > now) continue;
      this.retries.delete(key);
      taken.push(d);
    }
    return taken;
  }

  /** The devices of `list` connected nowhere, by this node's sockets and then every node's leases. */
  private async offline(list: Due[], now: number): Promise<Due[]> {
    const away = list.filter((d) => !this.o.isLocal(d.user, d.device));
    const users = [...new Set(away.map((d) => d.user))];
    const live = new Map<string, Set<string>>();
    await forEachLimited(users, LEASE_READS, async (user) => {
      try {
        live.set(user, await withTimeout(this.o.liveDevices(user, now), this.o.lookupTimeoutMs, 'push lease read'));
      } catch (err) {
        this.o.stats.lookupErrors++;
        this.o.log.debug('connection leases unreadable; the device counts as offline', { err });
      }
    });
    const out = away.filter((d) => !live.get(d.user)?.has(d.device));
    this.o.stats.skippedOnline += list.length - out.length;
    return out;
  }

  private pump(): void {
    while (this.inflight < this.o.concurrency && this.ready.length > 0) {
      const item = this.ready.shift()!;
      this.inflight++;
      void this.attempt(item.job, item.attempt).finally(() => {
        this.inflight--;
        this.pump();
      });
    }
  }

  private async attempt(job: PushJob, attempt: number): Promise<void> {
    const sender = this.o.senders[job.target.kind];
    if (!sender) {
      this.o.stats.failed++;
      return;
    }
    const service = sender.service(job.target);
    if (!this.breaker.allow(service, this.o.now())) {
      this.o.stats.heldByBreaker++;
      this.later(job, attempt, this.breaker.reopensAt(service, this.o.now()));
      return;
    }
    const outcome = await sender.send(job);
    const now = this.o.now();
    if (outcome === 'retry') this.breaker.failed(service, now);
    else this.breaker.succeeded(service);
    if (outcome === 'sent') this.o.stats.sent++;
    else if (outcome === 'rejected') this.o.stats.failed++;
    else if (outcome === 'gone') {
      this.o.stats.gone++;
      await withTimeout(this.o.store.remove(job.user, job.device, job.target), this.o.lookupTimeoutMs, 'push remove').catch((err: unknown) => {
        this.o.stats.lookupErrors++;
        this.o.log.warn('push target the service called gone not removed', { err });
      });
    } else if (attempt >= this.o.attempts) {
      this.o.stats.failed++;
    } else {
      this.o.stats.retried++;
      this.later(job, attempt + 1, now + retryDelay(attempt, this.o.retryBaseMs, this.o.retryMaxMs, this.o.random()));
    }
  }

  private later(job: PushJob, attempt: number, at: number): void {
    const key = deviceKey(job.user, job.device);
    if (this.retries.has(key)) return;
    if (this.size() >= this.o.queueMax) {
      this.o.stats.droppedFull++;
      return;
    }
    this.retries.set(key, { user: job.user, device: job.device, at, retry: { job, attempt } });
  }
}
