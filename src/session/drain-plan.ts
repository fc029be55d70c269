/**
 * How many of a draining node's sockets should be closed `elapsedMs` into
 * a drain of `drainMs`: an even share of `total` per moment, rounded up,
 * so that the last closes at the end of the window and the clients that
 * reconnect elsewhere arrive spread over it instead of in one storm. A
 * window of 0 closes everything at once.
 */
export function closesDue(total: number, elapsedMs: number, drainMs: number): number {
  if (drainMs <= 0 || elapsedMs >= drainMs) return total;
  if (elapsedMs <= 0) return 0;
  return Math.min(total, Math.ceil((total * elapsedMs) / drainMs));
}
