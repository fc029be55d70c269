import { randomBytes } from 'node:crypto';
import type { KeySource } from '../auth/token-verifier.ts';
import type { Config } from './config.ts';
import { keptDevFile } from './dev-file.ts';

export interface ResolvedKey {
  key: KeySource;
  /** Set when the relay made up its own secret: development only, and the log says so. */
  generatedAt?: string;
}

/**
 * The key source from the configuration. With none configured, a random
 * development secret is kept under DATA_DIR (so tokens survive a restart and
 * `npm run token` can sign with it); in production that is refused.
 */
export function resolveJwtKey(config: Config): ResolvedKey {
  if (config.JWT_SECRET) return { key: { kind: 'secret', secret: config.JWT_SECRET } };
  if (config.JWT_PUBLIC_KEY) return { key: { kind: 'public-key', pem: config.JWT_PUBLIC_KEY.replace(/\\n/g, '\n') } };
  if (config.JWT_JWKS_URL) return { key: { kind: 'jwks', url: config.JWT_JWKS_URL } };
  if (config.NODE_ENV === 'production') {
    throw new Error('no JWT key configured: set JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL (a generated development secret is refused when NODE_ENV=production)');
  }
  const { file, text } = keptDevFile(config.DATA_DIR, 'dev-jwt-secret', () => `${randomBytes(32).toString('hex')}\n`);
  const secret = text.trim();
  return { key: { kind: 'secret', secret }, generatedAt: file };
}
