import type { QueueStore } from '../delivery/queue-store.ts';
import { forEachLimited } from '../util/for-each-limited.ts';
import type { Logger } from '../util/logger.ts';

/** What a resync needs of a session. */
export interface ResyncTarget {
  readonly userId: string;
  readonly deviceId: string;
  readonly isApproved: boolean;
  readonly closed: boolean;
  /** The queue position up to which this connection has read its backlog. */
  readonly backlogCursor: string;
  /** Re-reads the device's queue after its cursor and sends what it finds; never rejects. */
  drain(): Promise<void>;
  /** Holds what arrives live until drain or resumeLive. */
  holdForResync(): void;
  /** Sends what was held and goes live again, without reading the queue. */
  resumeLive(): void;
}

export interface ResyncPass {
  /** Approved, open sessions looked at. */
  sessions: number;
  /** Probe queries made. */
  probes: number;
  /** Sessions whose queue was re-read. */
  drained: number;
}

/**
 * Re-reading this node's devices' queues after a bus outage: entries other
 * nodes published meanwhile were lost on the way, and they wait in the
 * queue (their nodes wrote them when no node answered).
 *
 * A node may hold a hundred thousand sessions, and after an outage every
 * node resyncs at about the same moment. Draining each session would be a
 * backlog read per device, all at once, against one database pool: reads
 * beyond what the pool serves within its timeout fail, and a failed drain
 * closes its socket, so the outage would end in a reconnect storm. A pass
 * therefore probes the queue for `chunk` devices per query (is there an
 * entry after this connection's cursor?) and re-reads only those that
 * have one, `concurrency` at a time. A device skipped has nothing to read:
 * its drain would have read an empty page.
 *
 * If a probe fails (the database is slow too), the pass re-reads every
 * device of that chunk, paced the same way, as it did before probing.
 */
export class BacklogResync {
  private running: Promise<void> | undefined;
  private again = false;
  /** The last pass finished (tests read it; each pass is also logged). */
  lastPass: ResyncPass | undefined;

  constructor(
    private readonly deps: {
      sessions: () => Iterable<ResyncTarget>;
      store: Pick<QueueStore, 'withBacklog'>;
      log: Logger;
      chunk: number;
      concurrency: number;
    },
  ) {}

  /**
   * Asks for a pass. A request during a pass makes exactly one more pass
   * after it: the running one may have probed devices before the entries
   * that this request is about were written.
   */
  /** Passes made since start (metrics). */
  passes = 0;

  /**
   * The bus may have lost messages: every session holds what arrives from
   * now on, and a pass follows that re-reads the queues with something
   * after their cursor and lets the others go live again. Without the
   * hold, a message sent after the outage could reach its device live
   * before one stored during it, which only the pass finds.
   */
  hold(): void {
    for (const s of this.deps.sessions()) if (s.isApproved && !s.closed) s.holdForResync();
    this.request();
  }

  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    // Nothing in a pass is meant to throw (drains never reject, a failed probe is handled); if something
    // does, it is logged, never left as an unhandled rejection that would end the process.
    this.running = this.loop()
      .catch((err: unknown) => {
        this.deps.log.error('queue re-read failed', { err });
        // No session may stay held: each re-reads its own queue instead.
        for (const s of this.deps.sessions()) if (s.isApproved && !s.closed) void s.drain();
      })
      .finally(() => (this.running = undefined));
  }

  /** Resolves once no pass is running or owed. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      this.lastPass = await this.pass();
      this.passes++;
      this.deps.log.info('queues re-read after a bus outage', { ...this.lastPass });
    } while (this.again);
  }

  private async pass(): Promise<ResyncPass> {
    const sessions = [...this.deps.sessions()].filter((s) => s.isApproved && !s.closed);
    const out: ResyncPass = { sessions: sessions.length, probes: 0, drained: 0 };
    for (let i = 0; i < sessions.length; i += this.deps.chunk) {
      const part = sessions.slice(i, i + this.deps.chunk);
      let due: ResyncTarget[];
      try {
        out.probes++;
        const has = await this.deps.store.withBacklog(part.map((s) => ({ user: s.userId, device: s.deviceId, afterSeq: s.backlogCursor })));
        due = part.filter((_, j) => has.has(j));
      } catch (err) {
        this.deps.log.warn('backlog probe failed; re-reading every queue of the chunk', { err, devices: part.length });
        due = part;
      }
      const reading = new Set(due);
      for (const s of part) if (!reading.has(s)) s.resumeLive();
      await forEachLimited(due, this.deps.concurrency, (s) => (s.closed ? Promise.resolve() : s.drain()));
      out.drained += due.length;
    }
    return out;
  }
}
