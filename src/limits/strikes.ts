/**
 * Counting garbage frames in a fixed window. Pure: the session keeps the
 * state, this decides. A client that sends `limit` bad frames within
 * `windowMs` is closed with 1008; an occasional bad frame only gets an error.
 */
export interface StrikeState {
  count: number;
  windowStart: number;
}

export const noStrikes: StrikeState = { count: 0, windowStart: 0 };

export function addStrike(prev: StrikeState, now: number, windowMs: number, limit: number): { state: StrikeState; exceeded: boolean } {
  const state = now - prev.windowStart >= windowMs ? { count: 1, windowStart: now } : { count: prev.count + 1, windowStart: prev.windowStart };
  return { state, exceeded: state.count >= limit };
}
