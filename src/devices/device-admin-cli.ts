import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.ts';
import { openDatabase } from '../db/database.ts';
import { DeviceRegistry, registryOptions } from './device-registry.ts';
import { loadSignatureVerifier } from './signature-verifier.ts';

/**
 * `npm run devices -- revoke --user U --device D [--promote P]`: the
 * operator revokes a device, the primary included, for a user who lost it.
 * A revoked primary hands the role to P (an approved device of the user) or
 * to the longest-approved one, which then signs the next device list; no
 * device is approved this way, so the operator cannot add a device to an
 * account, only remove one and name the next primary among those the old
 * primary approved. Every relay node closes the revoked device's socket
 * within REVOCATION_SWEEP_SECONDS and refuses it at every later upgrade.
 *
 * Runs against DATABASE_URL. With the embedded database, stop the relay
 * first: PGlite serves one process at a time.
 */
const usage = 'usage: npm run devices -- revoke --user <user id> --device <device id> [--promote <device id>]';
const { positionals, values } = parseArgs({ allowPositionals: true, options: { user: { type: 'string' }, device: { type: 'string' }, promote: { type: 'string' } } });
if (positionals[0] !== 'revoke' || !values.user || !values.device) {
  console.error(usage);
  process.exit(2);
}
const config = loadConfig(process.env);
const handle = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, timeoutMs: config.DB_TIMEOUT_MS, poolSize: 2 });
try {
  const registry = new DeviceRegistry(
    handle.db,
    registryOptions(config),
    await loadSignatureVerifier(),
    () => {
      throw new Error('the operator issues no approval requests');
    },
    () => {
      throw new Error('the operator issues no approval codes');
    },
  );
  const r = await registry.revoke({ userId: values.user, actor: 'operator', target: values.device, ...(values.promote ? { promote: values.promote } : {}) }, Date.now());
  if (r.kind === 'forbidden') {
    console.error(`not revoked: ${values.user}/${values.device} is unknown or already final${values.promote ? `, or ${values.promote} is not an approved device` : ''}`);
    process.exitCode = 1;
  } else {
    console.log(JSON.stringify({ revoked: values.device, user: values.user, promoted: r.promoted ?? null }));
  }
} finally {
  await handle.close();
}
