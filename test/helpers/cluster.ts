import { afterAll, beforeAll } from 'vitest';
import { startRelay, tempDir, type RelayProcess } from '../../tools/relay-process.ts';
import { Accounts } from './accounts.ts';
import { createTestDatabase, type TestDatabase } from './databases.ts';
import type { TestRedis } from './redis.ts';
import { TEST_SECRET } from './tokens.ts';

export interface Cluster {
  db: TestDatabase;
  nodes: RelayProcess[];
  /** Accounts registered through the first node. */
  accounts: Accounts;
}

/**
 * Relay processes that form one cluster for the enclosing `describe`: one
 * fresh Postgres database, one Redis (or Redis Cluster) and key prefix, each node with its own
 * NODE_ID and data directory. `nodes` maps each node id to the environment
 * it adds. The returned object is filled in by `beforeAll`; `afterAll`
 * kills the nodes and drops the database and the Redis.
 */
export function useCluster(redis: TestRedis, nodes: Record<string, Record<string, string>>): Cluster {
  const cluster = {} as Cluster;
  beforeAll(async () => {
    await Accounts.ready();
    cluster.db = await createTestDatabase('postgres');
    cluster.nodes = await Promise.all(Object.entries(nodes).map(([id, env]) => startRelay({ ...cluster.db.env, DATA_DIR: tempDir(id), JWT_SECRET: TEST_SECRET, ...redis.env, NODE_ID: id, ...env })));
    cluster.accounts = new Accounts(cluster.nodes[0]!.url);
  });
  afterAll(async () => {
    await Promise.all((cluster.nodes ?? []).map((n) => n.stop('SIGKILL')));
    await cluster.db?.drop();
    await redis.stop();
  });
  return cluster;
}
