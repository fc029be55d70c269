import { ExpiryWheel } from './expiry-wheel.ts';

/** One typer's indicator in one conversation, as its recipient sees it. */
export interface TypingSignal {
  userId: string;
  deviceId: string;
  to: string;
  conversationId: string;
}

class Indicator {
  constructor(
    readonly owner: object,
    readonly signal: TypingSignal,
    public expiresAt: number,
    private readonly onExpire: (i: Indicator) => void,
  ) {}

  expire(): void {
    this.onExpire(this);
  }
}

/**
 * Typing indicators that end by themselves. A recipient told `is_typing:
 * true` is told `false` when the typer says so, when the typer sends no
 * update for `ttlMs`, or when the typer's socket closes: a phone that loses
 * its network mid-word never leaves a contact looking at "typing…".
 *
 * The indicators live on the typer's node, which is the one that sees its
 * socket close; one wheel per node (one timer) ends them, within a second or
 * two after their ttl. How many a device may hold is bounded by its signal
 * budget (RATE_SIGNALS_*) times the ttl.
 */
export class TypingTracker {
  private readonly byOwner = new Map<object, Map<string, Indicator>>();
  private readonly wheel: ExpiryWheel<Indicator>;

  constructor(
    private readonly o: {
      now: () => number;
      ttlMs: number;
      /** Tells the recipient that the typer stopped. */
      stopped: (signal: TypingSignal) => void;
    },
  ) {
    this.wheel = new ExpiryWheel<Indicator>(o.now);
  }

  /** A typing frame from `owner` (a session): true starts or renews its indicator, false ends it. */
  typed(owner: object, signal: TypingSignal, isTyping: boolean): void {
    const key = keyOf(signal.to, signal.conversationId);
    let mine = this.byOwner.get(owner);
    const held = mine?.get(key);
    if (!isTyping) {
      if (held) this.forget(held);
      return;
    }
    if (held) {
      held.expiresAt = this.o.now() + this.o.ttlMs;
      this.wheel.add(held);
      return;
    }
    const indicator = new Indicator(owner, { ...signal }, this.o.now() + this.o.ttlMs, (i) => this.end(i));
    if (!mine) this.byOwner.set(owner, (mine = new Map()));
    mine.set(key, indicator);
    this.wheel.add(indicator);
  }

  /** The owner's socket closed: every recipient it was typing to is told it stopped. */
  left(owner: object): void {
    const mine = this.byOwner.get(owner);
    if (!mine) return;
    for (const i of [...mine.values()]) this.end(i);
  }

  /** Indicators held now, on this node. */
  get size(): number {
    return this.wheel.size;
  }

  /** Ends every indicator whose time has passed (the timer calls it each second). */
  tick(): void {
    this.wheel.tick();
  }

  start(): void {
    this.wheel.start();
  }

  stop(): void {
    this.wheel.stop();
  }

  private end(i: Indicator): void {
    this.forget(i);
    this.o.stopped(i.signal);
  }

  private forget(i: Indicator): void {
    this.wheel.remove(i);
    const mine = this.byOwner.get(i.owner);
    mine?.delete(keyOf(i.signal.to, i.signal.conversationId));
    if (mine?.size === 0) this.byOwner.delete(i.owner);
  }
}

/** Recipient and conversation, joined by a character ids cannot hold (fields.ts allows no NUL). */
const keyOf = (to: string, conversationId: string): string => `${to}\u0000${conversationId}`;
