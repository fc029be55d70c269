import { describe, expect, it } from 'vitest';
import { TypingTracker, type TypingSignal } from '../../src/session/typing-tracker.ts';

describe('typing tracker', () => {
  const setup = () => {
    let t = 1_000_000;
    const stopped: TypingSignal[] = [];
    const tracker = new TypingTracker({ now: () => t, ttlMs: 10_000, stopped: (s) => stopped.push({ ...s }) });
    const advance = (ms: number) => {
      t += ms;
      tracker.tick();
    };
    return { tracker, stopped, advance };
  };
  const sig = (to: string, conversationId = 'c1'): TypingSignal => ({ userId: 'alice', deviceId: 'a1', to, conversationId });

  it('ends an indicator nobody renews after the ttl, and only once', () => {
    const { tracker, stopped, advance } = setup();
    const owner = {};
    tracker.typed(owner, sig('bob'), true);
    advance(9_000);
    expect(stopped).toEqual([]);
    advance(3_000);
    expect(stopped).toEqual([sig('bob')]);
    advance(20_000);
    expect(stopped).toHaveLength(1);
    expect(tracker.size).toBe(0);
  });

  it('a renewal moves the end; an explicit false ends it without a second stop', () => {
    const { tracker, stopped, advance } = setup();
    const owner = {};
    tracker.typed(owner, sig('bob'), true);
    advance(8_000);
    tracker.typed(owner, sig('bob'), true);
    advance(8_000);
    expect(stopped).toEqual([]);
    tracker.typed(owner, sig('bob'), false);
    advance(30_000);
    expect(stopped).toEqual([]);
    expect(tracker.size).toBe(0);
  });

  it('a typer that leaves stops typing to everyone, and other typers are untouched', () => {
    const { tracker, stopped, advance } = setup();
    const [mine, theirs] = [{}, {}];
    tracker.typed(mine, sig('bob'), true);
    tracker.typed(mine, sig('carol', 'c2'), true);
    tracker.typed(mine, sig('bob', 'c3'), true);
    tracker.typed(theirs, { userId: 'dave', deviceId: 'd1', to: 'bob', conversationId: 'c1' }, true);
    tracker.left(mine);
    expect(stopped.map((s) => `${s.to}/${s.conversationId}`).sort()).toEqual(['bob/c1', 'bob/c3', 'carol/c2']);
    expect(tracker.size).toBe(1);
    tracker.left(mine);
    expect(stopped).toHaveLength(3);
    advance(11_000);
    expect(stopped.at(-1)!.userId).toBe('dave');
  });
});
