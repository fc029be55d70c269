import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { Accounts } from './accounts.ts';
import { createTestDatabase, type TestDatabase } from './databases.ts';
import { startRelay, type RelayProcess } from '../../tools/relay-process.ts';
import { TEST_SECRET } from './tokens.ts';

export interface RelayFixture {
  db: TestDatabase;
  relay: RelayProcess;
  accounts: Accounts;
}

/**
 * One relay process on a fresh database for the enclosing describe block,
 * with an Accounts helper bound to it. Fields are filled in beforeAll.
 */
export function useRelay(kind: 'pglite' | 'postgres', env: Record<string, string> = {}): RelayFixture {
  const fx = {} as RelayFixture;
  beforeAll(async () => {
    await Accounts.ready();
    fx.db = await createTestDatabase(kind);
    fx.relay = await startRelay({ ...fx.db.env, JWT_SECRET: TEST_SECRET, ...env });
    fx.accounts = new Accounts(fx.relay.url);
  });
  afterAll(async () => {
    await fx.relay?.stop();
    await fx.db?.drop();
  });
  return fx;
}

/** A user id no other test uses. */
export const uid = (name: string): string => `${name}-${randomBytes(4).toString('hex')}`;
