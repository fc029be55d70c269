import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
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
