import type { EntryState, QueueEntry } from './queue-entry.ts';

/**
 * Where an entry may go from each state, the one place that says so:
 *
 *   queued -> flushing -> committed      the normal path
 *   queued -> acked                      acked before its batch started: never written
 *   flushing|committed -> acked          acked after: deleted in a later batch
 *   flushing -> failed                   the batch failed; the sender is told to retry
 *   remote -> acked                      a copy of another node's entry, acked here (delivery-service.ts)
 *
 * `acked` and `failed` are final. The writer and the delivery service move
 * entries only through `advance`, so a move the table does not allow (a
 * commit landing on an entry acked meanwhile, say) changes nothing.
 */
const next: Readonly<Record<EntryState, readonly EntryState[]>> = {
  queued: ['flushing', 'acked'],
  flushing: ['committed', 'acked', 'failed'],
  committed: ['acked'],
  remote: ['acked'],
  acked: [],
  failed: [],
};

/** Whether an entry in state `from` may move to `to`. */
export const mayMove = (from: EntryState, to: EntryState): boolean => next[from].includes(to);

/** Moves the entry to `to` if its state allows it; returns whether it moved. */
export function advance(e: QueueEntry, to: EntryState): boolean {
  if (!mayMove(e.state, to)) return false;
  e.state = to;
  return true;
}
