import type { RedisTarget } from '../config/redis-target.ts';
import { redisClusterLink, singleRedisLink, type BusLink } from './bus-link.ts';
import type { Logger } from '../util/logger.ts';
import { BROADCAST, type Bus, type BusMessage, type BusStats, type Reached } from './bus.ts';
import { decodeBusBatch, encodeBusBatch, type BusBatch } from './bus-codec.ts';

/** Least time between two resyncs of this node (see `resync`). */
const RESYNC_GAP_MS = 1000;
/** Least time between two warnings about payloads this node cannot read. */
const UNREADABLE_WARN_GAP_MS = 60_000;
/** Wait before asking again for subscriptions that Redis refused or never answered. */
const SUBSCRIBE_RETRY_MS = 250;
/** Channels per SUBSCRIBE when asking again for many. */
const SUBSCRIBE_CHUNK = 1000;

/**
 * A topic this node wants. `confirmed` once Redis answered its SUBSCRIBE;
 * `waiters` resolve then (or when the topic is given up). A topic given up
 * and wanted again gets a new object, so a late answer to the old
 * SUBSCRIBE confirms nothing.
 */
interface Wanted {
  confirmed: boolean;
  waiters: Promise<void> | undefined;
  resolve: (() => void) | undefined;
}

/** Lets whoever waits on the topic go: it is heard, or no longer wanted. */
function heard(w: Wanted): void {
  w.resolve?.();
  w.waiters = w.resolve = undefined;
}

/** A turn's publishes, by topic. */
type Outgoing = Map<string, { msgs: BusMessage[]; asked: { msg: BusMessage; reached: Reached }[] | undefined }>;

export interface RedisBusOptions {
  /** A single Redis, or a Redis Cluster for sharded pub/sub. */
  target: RedisTarget;
  nodeId: string;
  /** Prefix of every channel, so several deployments (or test files) share one Redis. */
  prefix: string;
  /** Bound on any Redis command; the hot path never waits longer. */
  commandTimeoutMs: number;
  log: Logger;
}

/**
 * The bus over Redis pub/sub: a single Redis, or a Redis Cluster with
 * sharded pub/sub (bus-link.ts); the rules below hold for both, and one
 * contract test holds both to them. Publishes made in one event-loop turn are
 * grouped per channel into one PUBLISH (bus-codec.ts), and the PUBLISHes
 * of that turn leave in one write, so a busy node sends a handful of
 * commands per turn rather than one per message.
 *
 * Redis down: publishes fail at once (no offline queue, so memory stays
 * bounded) and are dropped; the messages they carried are in Postgres.
 * When the subscriber connection comes back, the bus subscribes to every
 * topic again (each is unheard until Redis confirms it: `listening`) and
 * calls onResync so nodes re-read what they may have missed. A node
 * whose publishes failed while the others' subscribers stayed up (Redis
 * stalled, or this node's connection alone dropped) asks them to resync
 * once it can publish again.
 */
export class RedisBus implements Bus {
  private readonly counts: BusStats = { publishes: 0, publishedBytes: 0, publishFailures: 0, received: 0 };
  readonly nodeId: string;
  readonly hasPeers = true;
  private readonly link: BusLink;
  private readonly topics = new Map<string, Wanted>();
  private readonly handlers: ((topic: string, msg: BusMessage) => void)[] = [];
  private readonly resyncHandlers: (() => void)[] = [];
  private readonly lossHandlers: (() => void)[] = [];
  /** This turn's publishes per topic; `asked` holds those that passed a `reached` hook, with their hooks. */
  private outgoing: Outgoing = new Map();
  private scheduled = false;
  private lostSubscriber = false;
  /** A publish failed (Redis down or too slow): the other nodes may have missed something this node sent. */
  private lostPublishes = false;
  /** A resync request is on its way and not answered yet: another waits for its answer (askForResync). */
  private askingResync = false;
  private resyncAskGap: NodeJS.Timeout | undefined;
  /** Running while a resync was made lately; `resyncOwed` when another was asked for meanwhile. */
  private resyncGap: NodeJS.Timeout | undefined;
  private resyncOwed = false;
  /** Topics whose SUBSCRIBE failed, to ask for again (askSubscribe). */
  private refused: (readonly [string, Wanted])[] = [];
  private resubscribeTimer: NodeJS.Timeout | undefined;
  private readonly prefix: string;
  /** When an unreadable payload was last logged (ms since the epoch; logging only). */
  private warnedUnreadableAt = -Infinity;

  constructor(private readonly opts: RedisBusOptions) {
    this.nodeId = opts.nodeId;
    this.prefix = `${opts.prefix}:bus:`;
    const linkOpts = { nodeId: opts.nodeId, commandTimeoutMs: opts.commandTimeoutMs };
    this.link = opts.target.kind === 'cluster' ? redisClusterLink(opts.target, linkOpts) : singleRedisLink(opts.target.url, linkOpts);
    this.link.onSubscriberLost(() => {
      this.lostSubscriber = true;
      // Redis forgot this connection's subscriptions: no topic is heard until it confirms it again.
      for (const w of this.topics.values()) w.confirmed = false;
    });
    this.link.onSubscriberReady(() => {
      if (!this.lostSubscriber) return this.resubscribe();
      this.lostSubscriber = false;
      // Every topic, refused ones included, in one pass.
      this.refused = [];
      this.askSubscribe([...this.topics]);
      opts.log.info('bus reconnected; resynchronising');
      this.resync();
    });
    this.link.onPublisherReady(() => {
      if (this.lostPublishes) this.scheduleFlush();
    });
    this.link.onMessage((channel, payload) => this.receive(channel, payload));
  }

  /** Resolves once both connections are up (start-up waits on it, bounded by the caller). */
  ready(): Promise<void> {
    return this.link.ready();
  }

  subscribe(topic: string): void {
    if (this.topics.has(topic)) return;
    const w: Wanted = { confirmed: false, waiters: undefined, resolve: undefined };
    this.topics.set(topic, w);
    this.askSubscribe([[topic, w]]);
  }

  unsubscribe(topic: string): void {
    const w = this.topics.get(topic);
    if (!w) return;
    this.topics.delete(topic);
    heard(w);
    this.link.unsubscribe(this.prefix + topic).catch(() => {});
  }

  listening(topic: string): true | Promise<void> {
    const w = this.topics.get(topic);
    if (!w || w.confirmed) return true;
    return (w.waiters ??= new Promise<void>((resolve) => (w.resolve = resolve)));
  }

  /**
   * Sends SUBSCRIBE for topics until Redis confirms them. One asked while
   * the subscriber is away is refused when ioredis gives up its offline
   * queue: without asking again, the topic would stay deaf for as long as
   * the node keeps it. Refused topics are asked for again together, once
   * the subscriber is ready (at once if it is, after a short wait); after a
   * reconnect, every topic is.
   */
  private askSubscribe(topics: readonly (readonly [string, Wanted])[]): void {
    for (let i = 0; i < topics.length; i += SUBSCRIBE_CHUNK) {
      const chunk = topics.slice(i, i + SUBSCRIBE_CHUNK);
      const wanted = () => chunk.filter(this.awaited);
      this.link.subscribe(chunk.map(([topic]) => this.prefix + topic)).then(
        () => {
          for (const [, w] of wanted()) {
            w.confirmed = true;
            heard(w);
          }
        },
        () => {
          for (const t of wanted()) this.refused.push(t);
          this.scheduleResubscribe();
        },
      );
    }
  }

  private scheduleResubscribe(): void {
    if (this.resubscribeTimer || this.refused.length === 0) return;
    this.resubscribeTimer = setTimeout(() => {
      this.resubscribeTimer = undefined;
      // Not ready: the subscriber's ready event asks.
      if (this.link.subscriberReady) this.resubscribe();
    }, SUBSCRIBE_RETRY_MS);
    this.resubscribeTimer.unref();
  }

  private resubscribe(): void {
    const refused = this.refused;
    this.refused = [];
    this.askSubscribe(refused.filter(this.awaited));
  }

  /** Still wanted, as this same request, and not confirmed yet. */
  private readonly awaited = ([topic, w]: readonly [string, Wanted]): boolean => this.topics.get(topic) === w && !w.confirmed;

  publish(topic: string, msg: BusMessage, reached?: Reached): void {
    const out = this.outgoing.get(topic);
    if (out) {
      out.msgs.push(msg);
      if (reached) (out.asked ??= []).push({ msg, reached });
    } else this.outgoing.set(topic, { msgs: [msg], asked: reached ? [{ msg, reached }] : undefined });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  onMessage(handler: (topic: string, msg: BusMessage) => void): void {
    this.handlers.push(handler);
  }

  onResync(handler: () => void): void {
    this.resyncHandlers.push(handler);
  }

  onLoss(handler: () => void): void {
    this.lossHandlers.push(handler);
  }

  async close(): Promise<void> {
    clearTimeout(this.resyncGap);
    clearTimeout(this.resyncAskGap);
    clearTimeout(this.resubscribeTimer);
    this.flush();
    await this.link.close();
  }

  /**
   * One PUBLISH per topic. Redis answers with the number of subscribers it
   * reached, this node's own subscriber included when it holds the topic;
   * the topic's `reached` hooks get that count without it (0 on no answer).
   *
   * The PUBLISHes of a turn leave in one write: the socket is corked while
   * ioredis writes them, one by one, and uncorked after. ioredis's own
   * auto-pipelining also made one write, but what each of its pipelines
   * allocated outlived the young generation (which reference held it, not
   * found). Two nodes on one core, 8k msg/s offered across them: each node
   * promoted 13 to 16 MB/s and its scavenges took 5 to 6 ms, against 0.5
   * MB/s and about 1 ms corked (`--trace-gc`). At 5k msg/s, in three
   * alternating pairs of runs: 132 to 160 µs of the core per message
   * against 160 to 175, and a p99 of 6 to 15 ms against 19 to 38.
   */
  private flush(): void {
    this.scheduled = false;
    if (this.lostPublishes && !this.askingResync && this.link.publisherReady) this.askForResync();
    const batch = this.outgoing;
    this.outgoing = new Map();
    // While the connection is down each publish fails at once (no offline queue) and writes nothing.
    if (batch.size > 1) this.link.corked(() => this.publishAll(batch));
    else this.publishAll(batch);
  }

  private publishAll(batch: Outgoing): void {
    for (const [topic, { msgs, asked }] of batch) {
      const payload = encodeBusBatch({ n: this.nodeId, m: msgs });
      this.counts.publishes++;
      this.counts.publishedBytes += payload.length;
      const sent = this.link.publish(this.prefix + topic, payload);
      if (asked) {
        const self = this.topics.has(topic) ? 1 : 0;
        sent.then(
          (count) => {
            const others = Math.max(0, count - self);
            for (const a of asked) a.reached(a.msg, others);
          },
          (err: unknown) => {
            this.dropped(err, topic, msgs.length);
            for (const a of asked) a.reached(a.msg, 0);
          },
        );
      } else {
        sent.catch((err: unknown) => this.dropped(err, topic, msgs.length));
      }
    }
  }

  /** Messages may have been lost: the loss handlers at once, the resync handlers folded. */
  private resync(): void {
    // Never folded: what arrives from now on must wait behind the re-read.
    for (const h of this.lossHandlers) h();
    this.foldedResync();
  }

  /**
   * Calls the resync handlers, at most once per RESYNC_GAP_MS: after an
   * outage every node asks the others, and each resync re-reads the status
   * of every device connected here, so requests that come while one ran
   * lately are folded into a single one at the end of the gap.
   */
  private foldedResync(): void {
    if (this.resyncGap) {
      this.resyncOwed = true;
      return;
    }
    for (const h of this.resyncHandlers) h();
    this.resyncGap = setTimeout(() => {
      this.resyncGap = undefined;
      if (!this.resyncOwed) return;
      this.resyncOwed = false;
      this.foldedResync();
    }, RESYNC_GAP_MS);
    this.resyncGap.unref();
  }

  stats(): BusStats {
    return { ...this.counts };
  }

  private dropped(err: unknown, topic: string, count: number): void {
    this.counts.publishFailures++;
    this.opts.log.debug('bus publish dropped', { err, topic, count });
    this.lostPublishes = true;
  }

  /**
   * Tells every other node, once this node can publish again, that it lost
   * publishes: their buses call onResync, and their sessions re-read their
   * queues from Postgres, where every stored message is. Without it, a copy
   * that this node failed to send reaches its device only at that device's
   * next drain, since the receiving nodes saw no outage of their own.
   *
   * One request at a time: while Redis stalls, every publish times out and
   * each turn would ask again, and the stalled requests would all arrive at
   * once when it resumes (dozens, each holding every session of every
   * node). A publish that failed while one is on its way is covered by the
   * next, sent once the first is answered. A request that timed out on a
   * connection still up is most likely waiting in Redis's input with the
   * publishes it covers, so the next one waits RESYNC_GAP_MS; on a
   * connection that dropped, the next goes as soon as it is back.
   */
  private askForResync(): void {
    this.lostPublishes = false;
    this.askingResync = true;
    const next = () => {
      this.askingResync = false;
      if (this.lostPublishes) this.scheduleFlush();
    };
    this.link.publish(this.prefix + BROADCAST, encodeBusBatch({ n: this.nodeId, r: true, m: [] })).then(next, (err: unknown) => {
      this.dropped(err, BROADCAST, 0);
      if (!this.link.publisherReady) return next();
      clearTimeout(this.resyncAskGap);
      this.resyncAskGap = setTimeout(next, RESYNC_GAP_MS);
      this.resyncAskGap.unref();
    });
  }

  private receive(channel: string, payload: string): void {
    this.counts.received++;
    if (!channel.startsWith(this.prefix)) return;
    let parsed: BusBatch;
    try {
      parsed = decodeBusBatch(payload);
    } catch (err) {
      // Another release of the relay on the same prefix, most likely. The stored messages it sent wait in Postgres (no ack will come for them); say so, not too often.
      const now = Date.now();
      if (now - this.warnedUnreadableAt >= UNREADABLE_WARN_GAP_MS) {
        this.warnedUnreadableAt = now;
        this.opts.log.warn('bus payload not understood; do all nodes run the same release?', { err, channel });
      }
      return;
    }
    if (parsed.n === this.nodeId) return;
    if (parsed.r) {
      this.opts.log.info('another node lost bus publishes; resynchronising', { node: parsed.n });
      this.resync();
    }
    const topic = channel.slice(this.prefix.length);
    for (const msg of parsed.m) for (const h of this.handlers) h(topic, msg);
  }
}
