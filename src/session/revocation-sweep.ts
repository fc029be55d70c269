import type { DeviceStatus } from '../db/schema.ts';
import { deviceKey } from '../delivery/queue-entry.ts';
import { isFinal } from '../devices/approval-rules.ts';
import type { Logger } from '../util/logger.ts';

/** What the sweep needs of a session. */
export interface SweepTarget {
  readonly userId: string;
  readonly deviceId: string;
  readonly status: DeviceStatus;
  readonly closed: boolean;
}

/**
 * Re-reads the stored status of every device connected to this node, `chunk`
 * devices per query, and applies any denial or revocation it finds. A
 * revocation normally reaches its socket at once through the bus; this is
 * the backstop for one whose event was lost (Redis down when it was
 * published, a node that died before publishing, or a socket that
 * registered while the event went by). Runs every interval and after each
 * bus resync, so a revoked device keeps its socket at most one interval
 * plus one pass.
 *
 * Cost: one indexed query per `chunk` connected devices per pass (200
 * queries for 100k devices with the default chunk of 500).
 */
export class RevocationSweep<T extends SweepTarget> {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      sessions: () => Iterable<T>;
      statuses: (devices: readonly { userId: string; deviceId: string }[]) => Promise<Map<string, DeviceStatus>>;
      /** Applies a final status found in the database to the session (it is told and closed with 4403). */
      apply: (session: T, status: DeviceStatus) => void;
      log: Logger;
      chunk: number;
    },
  ) {}

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => this.request(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Starts a pass, or one more after the pass under way. */
  request(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again);
      this.running = undefined;
    })();
    return this.running;
  }

  /** One pass over the sessions open now; returns how many it ended. */
  async pass(): Promise<number> {
    const open = [...this.deps.sessions()].filter((s) => !s.closed && !isFinal(s.status));
    let ended = 0;
    for (let i = 0; i < open.length; i += this.deps.chunk) {
      const batch = open.slice(i, i + this.deps.chunk);
      let stored: Map<string, DeviceStatus>;
      try {
        stored = await this.deps.statuses(batch.map((s) => ({ userId: s.userId, deviceId: s.deviceId })));
      } catch (err) {
        this.deps.log.warn('revocation sweep: device statuses unavailable', { err, devices: batch.length });
        continue;
      }
      for (const s of batch) {
        const status = stored.get(deviceKey(s.userId, s.deviceId));
        if (status !== undefined && isFinal(status) && !s.closed) {
          this.deps.apply(s, status);
          ended++;
        }
      }
    }
    if (ended > 0) this.deps.log.info('revocation sweep closed devices whose status changed unseen', { ended });
    return ended;
  }
}
