import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEV_ADMIN_TOKEN_FILE } from '../config/admin-token.ts';
import { loadConfig } from '../config/config.ts';
import { adminRequestPath, type AdminRequest } from './admin-routes.ts';

/**
 * `npm run admin -- <command>`: the admin API from a terminal. Talks to
 * ADMIN_URL (default http://ADMIN_HOST:ADMIN_PORT) with ADMIN_TOKEN, or
 * with the development token a relay without one keeps under DATA_DIR.
 * Prints the relay's JSON answer; exits 0 when it was a success, 1 when the
 * relay refused, 2 on a usage error.
 */
const usage = `usage: npm run admin -- <command>
  devices <user>                          list a user's devices, their state and queue depth
  kick <user> [<device>]                  close the device's socket (or every socket of the user) on any node, with 4410
  revoke <user> <device> [--promote <d>]  revoke a device, the primary included; --promote names the next primary
  queue <user> <device>                   a device's queue depth and oldest entry
  purge <user> <device>                   delete every entry waiting for a device`;

const { positionals, values } = parseArgs({ allowPositionals: true, options: { promote: { type: 'string' } } });
const [command, user, device] = positionals;
const request = ((): AdminRequest | undefined => {
  if (!user) return undefined;
  if (command === 'devices' && !device) return { action: 'list_devices', user };
  if (command === 'kick') return device ? { action: 'kick_device', user, device } : { action: 'kick_user', user };
  if (!device || positionals.length > 3) return undefined;
  if (command === 'revoke') return { action: 'revoke_device', user, device };
  if (command === 'queue') return { action: 'queue_stats', user, device };
  if (command === 'purge') return { action: 'purge_queue', user, device };
  return undefined;
})();
if (!request) {
  console.error(usage);
  process.exit(2);
}

const config = loadConfig(process.env);
const token = config.ADMIN_TOKEN ?? devToken(config.DATA_DIR);
if (!token) {
  console.error(`no admin token: set ADMIN_TOKEN (a relay without one keeps a development token in ${path.resolve(config.DATA_DIR, DEV_ADMIN_TOKEN_FILE)})`);
  process.exit(2);
}
const base = process.env['ADMIN_URL'] ?? `http://${config.ADMIN_HOST}:${config.ADMIN_PORT}`;
const { method, path: route } = adminRequestPath(request);
const res = await fetch(new URL(route, base), {
  method,
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  ...(values.promote ? { body: JSON.stringify({ promote: values.promote }) } : {}),
  signal: AbortSignal.timeout(15_000),
}).catch((err: unknown) => {
  console.error(`admin API at ${base} unreachable: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
process.stdout.write(await res.text());
process.exitCode = res.ok ? 0 : 1;

function devToken(dataDir: string): string | undefined {
  try {
    return readFileSync(path.resolve(dataDir, DEV_ADMIN_TOKEN_FILE), 'utf8').trim();
  } catch {
    return undefined;
  }
}
