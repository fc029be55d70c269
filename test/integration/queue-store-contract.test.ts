import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryQueueStore } from '../../src/delivery/memory-queue-store.ts';
import { PostgresQueueStore } from '../../src/delivery/postgres-queue-store.ts';
import type { QueueStore } from '../../src/delivery/queue-store.ts';
import { backends } from '../helpers/databases.ts';
import { testEntry } from '../helpers/entries.ts';
import { openInProcess } from '../helpers/in-process-db.ts';

/**
 * One contract for every queue store (queue-store.ts): the memory version
 * that fast tests run on, and Postgres (PGlite always, the server when
 * DATABASE_URL is set), which the relay runs on.
 */
interface Subject {
  store: QueueStore;
  /** Marks a device revoked, as the registry would. */
  revoke(user: string, device: string): Promise<void>;
  close(): Promise<void>;
}

const subjects: [string, () => Promise<Subject>][] = [
  [
    'memory',
    async () => {
      const revoked = new Set<string>();
      return {
        store: new MemoryQueueStore((u, d) => revoked.has(`${u}/${d}`)),
        revoke: async (u, d) => void revoked.add(`${u}/${d}`),
        close: async () => {},
      };
    },
  ],
  ...backends.map(
    (kind) =>
      [
        kind,
        async () => {
          const opened = await openInProcess(kind);
          return {
            store: new PostgresQueueStore(opened.db, 5000),
            revoke: async (u: string, d: string) => {
              const now = new Date();
              await opened.db.insertInto('devices').values({ user_id: u, device_id: d, created_at: now, last_seen_at: now, status: 'revoked' }).execute();
            },
            close: opened.close,
          };
        },
      ] as [string, () => Promise<Subject>],
  ),
];

const ids = async (store: QueueStore, user: string, device: string, after = '0', limit = 100) => (await store.readBacklog(user, device, after, limit)).map((r) => r.entry.messageId);

describe.each(subjects)('queue store contract: %s', (_name, open) => {
  // One store per backend; each test uses users of its own.
  let subject: Subject;
  beforeAll(async () => {
    subject = await open();
  });
  afterAll(() => subject.close());
  const use = (test: (s: Subject) => Promise<void>) => () => test(subject);

  it(
    'gives a device its entries in commit order, as committed copies with every field, and pages by position',
    use(async ({ store }) => {
      const a = testEntry('u1', 'd1', { frame: '{"type":"deliver","text":"é 😀"}' });
      const b = testEntry('u1', 'd1');
      const c = testEntry('u1', 'd1');
      await store.commit([a, b], []);
      await store.commit([c, testEntry('u1', 'd2'), testEntry('u2', 'd1')], []);
      const page = await store.readBacklog('u1', 'd1', '0', 2);
      expect(page.map((r) => r.entry.messageId)).toEqual([a.messageId, b.messageId]);
      const first = page[0]!.entry;
      expect(first).not.toBe(a);
      expect(first.state).toBe('committed');
      expect({ ...first, createdAt: first.createdAt.getTime() }).toMatchObject({
        recipientUser: 'u1',
        recipientDevice: 'd1',
        recipientKey: a.recipientKey,
        dedupKey: a.dedupKey,
        messageId: a.messageId,
        kind: 'deliver',
        senderUser: 's',
        senderDevice: 'sd',
        frame: a.frame,
        createdAt: a.createdAt.getTime(),
        origin: undefined,
      });
      expect(await ids(store, 'u1', 'd1', page[1]!.seq)).toEqual([c.messageId]);
      expect(Number(page[1]!.seq)).toBeGreaterThan(Number(page[0]!.seq));
      expect(await ids(store, 'nobody', 'd1')).toEqual([]);
    }),
  );

  it(
    'skips an insert whose dedup key the device already has, and deletes only the named rows, a missing one doing nothing',
    use(async ({ store }) => {
      const a = testEntry('u3', 'd1', { key: 'k1' });
      await store.commit([a], []);
      await store.commit([testEntry('u3', 'd1', { key: 'k1' }), testEntry('u3', 'd2', { key: 'k1' })], []);
      expect(await ids(store, 'u3', 'd1')).toEqual([a.messageId]);
      expect(await store.countFor('u3', 'd2')).toBe(1);
      const b = testEntry('u3', 'd1');
      await store.commit(
        [b],
        [
          { recipientUser: 'u3', recipientDevice: 'd1', dedupKey: 'k1' },
          { recipientUser: 'u3', recipientDevice: 'd1', dedupKey: 'gone' },
        ],
      );
      expect(await ids(store, 'u3', 'd1')).toEqual([b.messageId]);
      expect(await store.countFor('u3', 'd2')).toBe(1);
    }),
  );

  it(
    'tells which devices have entries after their cursor',
    use(async ({ store }) => {
      await store.commit([testEntry('u4', 'd1'), testEntry('u4', 'd1')], []);
      const [first] = await store.readBacklog('u4', 'd1', '0', 1);
      const last = (await store.readBacklog('u4', 'd1', '0', 10)).at(-1)!;
      const has = await store.withBacklog([
        { user: 'u4', device: 'd1', afterSeq: '0' },
        { user: 'u4', device: 'd1', afterSeq: first!.seq },
        { user: 'u4', device: 'd1', afterSeq: last.seq },
        { user: 'u4', device: 'd9', afterSeq: '0' },
      ]);
      expect([...has].sort()).toEqual([0, 1]);
      expect(await store.withBacklog([])).toEqual(new Set());
    }),
  );

  it(
    'sweeps entries older than a cutoff, at most `limit` at a time',
    use(async ({ store }) => {
      const old = new Date(Date.now() - 86_400_000);
      const fresh = testEntry('u5', 'd1');
      await store.commit([testEntry('u5', 'd1', { createdAt: old }), testEntry('u5', 'd2', { createdAt: old }), testEntry('u5', 'd2', { createdAt: old }), fresh], []);
      const cutoff = new Date(Date.now() - 3_600_000);
      expect(await store.sweep(cutoff, 2)).toBe(2);
      expect(await store.sweep(cutoff, 2)).toBe(1);
      expect(await store.sweep(cutoff, 2)).toBe(0);
      expect(await ids(store, 'u5', 'd1')).toEqual([fresh.messageId]);
      expect(await store.countFor('u5', 'd2')).toBe(0);
    }),
  );

  it(
    "drops one device's queue, and purges the queues of revoked devices only",
    use(async ({ store, revoke }) => {
      await store.commit([testEntry('u6', 'd1'), testEntry('u6', 'd1'), testEntry('u6', 'd2'), testEntry('u6', 'd3')], []);
      expect(await store.dropDevice('u6', 'd1')).toBe(2);
      expect(await store.dropDevice('u6', 'd1')).toBe(0);
      await revoke('u6', 'd2');
      expect(await store.purgeRevoked()).toBe(1);
      expect(await store.countFor('u6', 'd2')).toBe(0);
      expect(await store.countFor('u6', 'd3')).toBe(1);
    }),
  );
});
