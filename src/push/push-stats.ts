/**
 * Counters of the push dispatcher, plain numbers read at scrape time
 * (docs/operations.md lists them). Each counts devices, not frames.
 */
export interface PushStats {
  /** Devices taken into the queue to be woken. */
  queued: number;
  /** Not queued: the queue was full. */
  droppedFull: number;
  /** Let go before a push: connected here or on another node by then. */
  skippedOnline: number;
  /** Pushes claimed in the database (the device had a target, was outside its window, and had something waiting). */
  claimed: number;
  sent: number;
  /** Attempts that are tried again later (timeouts, network errors, 5xx, 429). */
  retried: number;
  /** Given up after the last retry, or refused for good by the service (other 4xx). */
  failed: number;
  /** Targets removed because the service answered 404 or 410. */
  gone: number;
  /** Attempts held back because the service's circuit breaker was open. */
  heldByBreaker: number;
  /** Database or lease lookups of the dispatcher that failed (logged; the pass is retried). */
  lookupErrors: number;
}

export const newPushStats = (): PushStats => ({
  queued: 0,
  droppedFull: 0,
  skippedOnline: 0,
  claimed: 0,
  sent: 0,
  retried: 0,
  failed: 0,
  gone: 0,
  heldByBreaker: 0,
  lookupErrors: 0,
});
