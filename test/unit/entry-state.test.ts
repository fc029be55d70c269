import { describe, expect, it } from 'vitest';
import { advance, mayMove } from '../../src/delivery/entry-state.ts';
import { newEntry, remoteEntry, type EntryState } from '../../src/delivery/queue-entry.ts';

const fields = { recipientUser: 'bob', recipientDevice: 'b1', dedupKey: 'k', messageId: 'm', kind: 'deliver' as const, senderUser: 'alice', senderDevice: 'a1', frame: '{}', createdAt: new Date(0) };
const states: EntryState[] = ['queued', 'flushing', 'committed', 'acked', 'failed', 'remote'];

describe('entry states', () => {
  it('allows exactly the moves of the lifecycle, and nothing out of acked or failed', () => {
    const allowed = states.flatMap((from) => states.filter((to) => mayMove(from, to)).map((to) => `${from}->${to}`));
    expect(allowed.sort()).toEqual(['committed->acked', 'flushing->acked', 'flushing->committed', 'flushing->failed', 'queued->acked', 'queued->flushing', 'remote->acked']);
  });

  it('moves an entry only along them: a commit after an ack leaves it acked', () => {
    const e = newEntry(fields);
    expect(advance(e, 'committed')).toBe(false);
    expect(e.state).toBe('queued');
    expect(advance(e, 'flushing')).toBe(true);
    expect(advance(e, 'acked')).toBe(true);
    expect(advance(e, 'committed')).toBe(false);
    expect(e.state).toBe('acked');
    const copy = remoteEntry(fields, 'n2');
    expect(advance(copy, 'committed')).toBe(false);
    expect(advance(copy, 'acked')).toBe(true);
  });
});
