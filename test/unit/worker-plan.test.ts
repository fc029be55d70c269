import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { restartDelayMs, workerEnv } from '../../src/workers/worker-plan.ts';

describe('WORKERS', () => {
  it('gives each worker its own node id and metrics and admin ports, and the same public port', () => {
    const env = { PORT: '3000', DATABASE_URL: 'postgres://db/relay', WORKERS: '4' };
    expect(workerEnv(env, 2, { metrics: 9091, admin: 9092 }, 'host-7')).toEqual({ ...env, WORKERS: '1', NODE_ID: 'host-7-w2', METRICS_PORT: '9093', ADMIN_PORT: '9094' });
    expect(workerEnv(env, 3, { metrics: 0, admin: 0 }, 'h')).toMatchObject({ METRICS_PORT: '0', ADMIN_PORT: '0' });
  });
  it('starts a dead worker again at once, then backs off while it keeps dying, up to 30 s', () => {
    const now = 1_000_000;
    expect(restartDelayMs([now], now)).toBe(0);
    expect(restartDelayMs([now - 1000, now], now)).toBe(500);
    expect(restartDelayMs([now - 3000, now - 2000, now - 1000, now], now)).toBe(2000);
    expect(
      restartDelayMs(
        Array.from({ length: 20 }, (_, i) => now - i * 100),
        now,
      ),
    ).toBe(30_000);
    expect(restartDelayMs([now - 120_000, now - 90_000, now], now)).toBe(0);
  });
  it('refuses several workers without a shared Postgres and Redis, or on PORT=0', () => {
    const shared = { DATABASE_URL: 'postgres://db/relay', REDIS_URL: 'redis://r:6379' };
    expect(loadConfig({ ...shared, WORKERS: '2' }).WORKERS).toBe(2);
    expect(() => loadConfig({ REDIS_URL: shared.REDIS_URL, WORKERS: '2' })).toThrow(/WORKERS/);
    expect(() => loadConfig({ DATABASE_URL: shared.DATABASE_URL, WORKERS: '2' })).toThrow(/WORKERS/);
    expect(() => loadConfig({ ...shared, WORKERS: '2', PORT: '0' })).toThrow(/WORKERS/);
  });
});
