import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { build } from 'esbuild';
import { SignJWT } from 'jose';
import { startRelay, type RelayProcess } from '../tools/relay-process.ts';

/**
 * `npm run demo`: a relay on PGlite (or DATABASE_URL) plus a small web
 * server for the demo page. The page bundles the client SDK with esbuild
 * at start, and gets development tokens from `/token`, signed with a secret
 * made up for this run. Development only: anyone who can reach `/token`
 * can sign in as anyone.
 *
 * The web server is also the relay's push webhook (docs/push.md): it checks
 * each wake's signature and keeps the latest count per token, which the
 * page shows while its device is offline, as a phone shows a notification.
 *
 * DEMO_PORT (default 8090) and RELAY_PORT (default 8080) pick the ports; 0
 * picks free ones. It prints one JSON line, `demo listening`, with both URLs.
 */
const here = import.meta.dirname;
const secret = process.env['JWT_SECRET'] ?? randomBytes(32).toString('hex');
const key = new TextEncoder().encode(secret);
const host = '127.0.0.1';
const webhookSecret = randomBytes(32).toString('hex');
/** Wakes the relay sent, by token: how many, and the latest count of waiting frames. */
const wakes = new Map<string, { wakes: number; count: number }>();

const bundle = await build({
  entryPoints: [path.join(here, 'web', 'app.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  minify: false,
  sourcemap: 'inline',
  logLevel: 'warning',
});
const appJs = bundle.outputFiles[0]!.text;

const send = (res: ServerResponse, status: number, type: string, body: string) => {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
};
const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
const idPattern = /^[A-Za-z0-9._:@+=-]{1,64}$/;

/** A wake from the relay, checked as docs/push.md tells a push service to check it. */
function acceptWake(req: IncomingMessage, body: string): boolean {
  const ts = String(req.headers['x-relay-timestamp'] ?? '');
  const expected = Buffer.from(`v1=${createHmac('sha256', webhookSecret).update(`${ts}.${body}`).digest('hex')}`);
  const given = Buffer.from(String(req.headers['x-relay-signature'] ?? ''));
  const fresh = Math.abs(Date.now() / 1000 - Number(ts)) < 300;
  return fresh && given.length === expected.length && timingSafeEqual(given, expected);
}

let relay: RelayProcess | undefined;
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', `http://${host}`);
  void (async () => {
    switch (url.pathname) {
      case '/':
        return send(res, 200, 'text/html; charset=utf-8', await readFile(path.join(here, 'web', 'index.html'), 'utf8'));
      case '/style.css':
        return send(res, 200, 'text/css; charset=utf-8', await readFile(path.join(here, 'web', 'style.css'), 'utf8'));
      case '/app.js':
        return send(res, 200, 'text/javascript; charset=utf-8', appJs);
      case '/sw.js':
        return send(res, 200, 'text/javascript; charset=utf-8', await readFile(path.join(here, 'web', 'sw.js'), 'utf8'));
      case '/config.json':
        return send(res, 200, 'application/json', JSON.stringify({ relayUrl: relay?.url }));
      case '/token': {
        const user = url.searchParams.get('user') ?? '';
        const device = url.searchParams.get('device') ?? '';
        if (!idPattern.test(user) || !idPattern.test(device)) return send(res, 400, 'text/plain', 'user and device: 1-64 of A-Z a-z 0-9 . _ : @ + = -');
        const now = Math.floor(Date.now() / 1000);
        const jwt = await new SignJWT({ sub: user, did: device, iat: now, exp: now + 12 * 3600 }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
        return send(res, 200, 'text/plain', jwt);
      }
      case '/push-webhook': {
        const body = await readBody(req);
        if (req.method !== 'POST' || !acceptWake(req, body)) return send(res, 401, 'text/plain', 'bad signature');
        const wake = JSON.parse(body) as { token: string; count: number };
        wakes.set(wake.token, { wakes: (wakes.get(wake.token)?.wakes ?? 0) + 1, count: wake.count });
        return send(res, 200, 'text/plain', 'ok');
      }
      case '/wakes':
        return send(res, 200, 'application/json', JSON.stringify(wakes.get(url.searchParams.get('token') ?? '') ?? { wakes: 0, count: 0 }));
      default:
        return send(res, 404, 'text/plain', 'not found');
    }
  })().catch((err: unknown) => send(res, 500, 'text/plain', String(err)));
});
await new Promise<void>((resolve) => server.listen(Number(process.env['DEMO_PORT'] ?? 8090), host, () => resolve()));
const { port } = server.address() as AddressInfo;

relay = await startRelay({
  JWT_SECRET: secret,
  PORT: process.env['RELAY_PORT'] ?? '8080',
  HOST: host,
  DATA_DIR: process.env['DATA_DIR'] ?? path.join(here, '..', 'data', 'demo'),
  DATABASE_URL: process.env['DATABASE_URL'],
  PUSH_WEBHOOK_URL: `http://${host}:${port}/push-webhook`,
  PUSH_WEBHOOK_SECRET: webhookSecret,
  // Short windows, so that a device in the background shows its wake within a second or two.
  PUSH_COALESCE_SECONDS: '2',
  PUSH_DELAY_MS: '200',
  // startRelay waits for the relay's `relay listening` line, logged at info.
  LOG_LEVEL: 'info',
});
console.log(JSON.stringify({ msg: 'demo listening', url: `http://${host}:${port}/`, relay: relay.url }));

let stopping = false;
const shutdown = async () => {
  stopping = true;
  server.close();
  await relay?.stop('SIGTERM');
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
void relay.exited.then((code) => {
  if (stopping) return;
  console.error(JSON.stringify({ msg: 'relay exited', code }));
  process.exit(1);
});
