import { closesDue } from './drain-plan.ts';

/**
 * Closes `items` over `drainMs`, a share every `tickMs` (drain-plan.ts),
 * and resolves once the last one was closed. Items are closed in the order
 * given; closing one that already went is the caller's no-op.
 */
export function closeInStages<T>(items: readonly T[], drainMs: number, close: (item: T) => void, now: () => number = Date.now, tickMs = 100): Promise<void> {
  const started = now();
  let closed = 0;
  const step = (): boolean => {
    const due = closesDue(items.length, now() - started, drainMs);
    while (closed < due) close(items[closed++]!);
    return closed >= items.length;
  };
  if (step()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!step()) return;
      clearInterval(timer);
      resolve();
    }, tickMs);
  });
}
