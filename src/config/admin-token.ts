import { randomBytes } from 'node:crypto';
import type { Config } from './config.ts';
import { keptDevFile } from './dev-file.ts';

/**
 * The bearer token of the admin API. ADMIN_TOKEN when set; in production
 * without it, none, and the admin API stays off; elsewhere a development
 * token kept under DATA_DIR, which `npm run admin` reads from there too.
 */
export function resolveAdminToken(config: Config): { token: string | undefined; generatedAt?: string } {
  if (config.ADMIN_TOKEN) return { token: config.ADMIN_TOKEN };
  if (config.NODE_ENV === 'production') return { token: undefined };
  const { file, text } = keptDevFile(config.DATA_DIR, DEV_ADMIN_TOKEN_FILE, () => `${randomBytes(32).toString('base64url')}\n`);
  return { token: text.trim(), generatedAt: file };
}

export const DEV_ADMIN_TOKEN_FILE = 'dev-admin-token';
