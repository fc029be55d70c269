import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminTokenCheck } from '../../src/admin/admin-auth.ts';
import { resolveAdminToken } from '../../src/config/admin-token.ts';
import { loadConfig } from '../../src/config/config.ts';
import { adminRequestPath, matchAdminRoute, type AdminRequest } from '../../src/admin/admin-routes.ts';

describe('admin routes', () => {
  const requests: AdminRequest[] = [
    { action: 'list_devices', user: 'alice' },
    { action: 'kick_user', user: 'alice' },
    { action: 'kick_device', user: 'alice', device: 'phone' },
    { action: 'revoke_device', user: 'al:ice@x.org', device: 'ph.one' },
    { action: 'queue_stats', user: 'alice', device: 'phone' },
    { action: 'purge_queue', user: 'a+b=c', device: 'phone' },
  ];

  it('gives back every request from the method and path the CLI builds for it', () => {
    for (const r of requests) {
      const { method, path } = adminRequestPath(r);
      expect(matchAdminRoute(method, path)).toEqual({ kind: 'ok', request: r });
    }
  });

  it('tells an unknown route, a wrong method and an id that breaks the id rule apart', () => {
    expect(matchAdminRoute('GET', '/v1/users/alice')).toEqual({ kind: 'not_found' });
    expect(matchAdminRoute('GET', '/v1/users/alice/devices/phone/kick')).toEqual({ kind: 'method_not_allowed', allow: ['POST'] });
    expect(matchAdminRoute('PUT', '/v1/users/alice/devices/phone/queue')).toEqual({ kind: 'method_not_allowed', allow: ['GET', 'DELETE'] });
    expect(matchAdminRoute('GET', '/v1/users/al%20ice/devices')).toEqual({ kind: 'bad_id' });
    expect(matchAdminRoute('GET', '/v1/users/%E0%A4%A/devices')).toEqual({ kind: 'bad_id' });
    expect(matchAdminRoute('GET', `/v1/users/${'x'.repeat(300)}/devices`)).toEqual({ kind: 'bad_id' });
  });
});

describe('admin token check', () => {
  const check = adminTokenCheck('the-admin-token-the-admin-token-0001');
  it('accepts only the exact bearer token', () => {
    expect(check('Bearer the-admin-token-the-admin-token-0001')).toBe(true);
    expect(check('Bearer the-admin-token-the-admin-token-000')).toBe(false);
    expect(check('Bearer the-admin-token-the-admin-token-00010')).toBe(false);
    expect(check('bearer the-admin-token-the-admin-token-0001')).toBe(false);
    expect(check('the-admin-token-the-admin-token-0001')).toBe(false);
    expect(check(undefined)).toBe(false);
    expect(check('')).toBe(false);
  });
});

describe('admin token from the configuration', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'admin-token-'));
  it('is ADMIN_TOKEN when set, none in production without it (the API stays off), else a kept development token', () => {
    expect(resolveAdminToken(loadConfig({ ADMIN_TOKEN: 'x'.repeat(32), DATA_DIR: dir }))).toEqual({ token: 'x'.repeat(32) });
    expect(resolveAdminToken(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'j'.repeat(32), DATA_DIR: dir }))).toEqual({ token: undefined });
    const dev = resolveAdminToken(loadConfig({ DATA_DIR: dir }));
    expect(dev.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(resolveAdminToken(loadConfig({ DATA_DIR: dir })).token).toBe(dev.token);
    expect(() => loadConfig({ ADMIN_TOKEN: 'short' })).toThrow(/ADMIN_TOKEN/);
  });
});
