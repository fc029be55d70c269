import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { redisTargetOf } from '../../src/config/redis-target.ts';
import { isNativeUws, loadNativeUws } from '../../src/transport/uws.ts';

describe('configuration', () => {
  it('fills documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ PORT: 3000, DATA_DIR: './data', RETENTION_DAYS: 30, MAX_FRAME_BYTES: 65536 });
    expect(Object.isFrozen(c)).toBe(true);
  });
  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: '-1', DATABASE_URL: 'mysql://x' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: '-1', DATABASE_URL: 'mysql://x' });
    } catch (e) {
      expect(String(e)).toMatch(/PORT/);
      expect(String(e)).toMatch(/DATABASE_URL/);
    }
  });
  it('refuses a backpressure limit that the largest frame would not fit under', () => {
    expect(() => loadConfig({ MAX_FRAME_BYTES: String(512 * 1024), MAX_BACKPRESSURE_BYTES: String(1024 * 1024) })).toThrow(/MAX_BACKPRESSURE_BYTES/);
    expect(loadConfig({ MAX_FRAME_BYTES: String(512 * 1024), MAX_BACKPRESSURE_BYTES: String(2 * (512 + 8) * 1024) }).MAX_BACKPRESSURE_BYTES).toBe(1064960);
  });
  it('refuses two JWT key sources at once', () => {
    expect(() => loadConfig({ JWT_SECRET: 'x'.repeat(40), JWT_JWKS_URL: 'https://a.test/jwks' })).toThrow(/only one/);
  });
  it('reads a Redis Cluster from REDIS_CLUSTER_NODES, credentials and TLS for every node', () => {
    expect(redisTargetOf(loadConfig({}))).toBeUndefined();
    expect(redisTargetOf(loadConfig({ REDIS_URL: 'redis://r:6379' }))).toEqual({ kind: 'single', url: 'redis://r:6379' });
    expect(redisTargetOf(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000, 10.0.0.2:7001,[::1]:7002' }))).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      tls: false,
    });
    expect(redisTargetOf(loadConfig({ REDIS_CLUSTER_NODES: 'rediss://relay:p%40ss@a:7000,rediss://b:7000' }))).toMatchObject({
      username: 'relay',
      password: 'p@ss',
      tls: true,
      nodes: [{ host: 'a' }, { host: 'b' }],
    });
  });
  it('refuses a cluster node list it cannot use, and both kinds of Redis at once', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'a' })).toThrow(/REDIS_CLUSTER_NODES.*no port/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'http://a:1' })).toThrow(/only redis/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis://a:1/2' })).toThrow(/database number/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis://a:1,rediss://b:1' })).toThrow(/mixes/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://r:6379' })).toThrow(/not both/);
  });
});

describe('uWebSockets.js loading', () => {
  it('accepts the native binding installed here', () => {
    expect(isNativeUws(loadNativeUws())).toBe(true);
  });
  it('refuses a module shaped like the JavaScript fallback', () => {
    const fallback = { App: () => ({}), us_listen_socket_close: () => {}, _cfg: () => {} };
    expect(() => loadNativeUws(() => fallback)).toThrow(/native binding did not load/);
  });
});
