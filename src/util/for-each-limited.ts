/**
 * Runs `fn` over `items` with at most `limit` calls in flight, in order of
 * the items; resolves when all are done. `fn` must not reject (the callers
 * handle their own failures): a rejection stops nothing else but is
 * passed on once every call has finished.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
