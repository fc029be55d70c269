import { generateVapidKeys, type VapidKeys } from '../push/web-push-sender.ts';
import type { Config } from './config.ts';
import { keptDevFile } from './dev-file.ts';

export interface ResolvedVapid {
  keys: VapidKeys | undefined;
  /** Set when the relay made up its own pair: development only, and the log says so. */
  generatedAt?: string;
}

/**
 * The VAPID key pair from the configuration. With none configured, a pair
 * is generated once and kept under DATA_DIR (browsers subscribe against
 * the public key, so it must survive a restart); in production Web Push
 * stays off instead, since every node of a cluster must sign with one key.
 */
export function resolveVapidKeys(config: Config): ResolvedVapid {
  if (config.VAPID_PUBLIC_KEY && config.VAPID_PRIVATE_KEY) {
    return { keys: { publicKey: config.VAPID_PUBLIC_KEY, privateKey: config.VAPID_PRIVATE_KEY, subject: config.VAPID_SUBJECT } };
  }
  if (config.NODE_ENV === 'production') return { keys: undefined };
  const { file, text } = keptDevFile(config.DATA_DIR, 'dev-vapid-keys.json', () => `${JSON.stringify(generateVapidKeys())}\n`);
  const pair = JSON.parse(text) as { publicKey: string; privateKey: string };
  return { keys: { ...pair, subject: config.VAPID_SUBJECT }, generatedAt: file };
}
