import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { build } from 'esbuild';
import { SignJWT } from 'jose';
import { startRelay } from '../tools/relay-process.ts';

/**
 * `npm run demo`: a relay on PGlite (or DATABASE_URL) plus a small web
 * server for the demo page. The page bundles the client SDK with esbuild
 * at start, and gets development tokens from `/token`, signed with a secret
 * made up for this run. Development only: anyone who can reach `/token`
 * can sign in as anyone.
 *
 * DEMO_PORT (default 8090) and RELAY_PORT (default 8080) pick the ports; 0
 * picks free ones. It prints one JSON line, `demo listening`, with both URLs.
 */
const here = import.meta.dirname;
const secret = process.env['JWT_SECRET'] ?? randomBytes(32).toString('hex');
const key = new TextEncoder().encode(secret);
const host = '127.0.0.1';

const relay = await startRelay({
  JWT_SECRET: secret,
  PORT: process.env['RELAY_PORT'] ?? '8080',
  HOST: host,
  DATA_DIR: process.env['DATA_DIR'] ?? path.join(here, '..', 'data', 'demo'),
  DATABASE_URL: process.env['DATABASE_URL'],
  // startRelay waits for the relay's `relay listening` line, logged at info.
  LOG_LEVEL: 'info',
});

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
const idPattern = /^[A-Za-z0-9._:@+=-]{1,64}$/;

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
      case '/config.json':
        return send(res, 200, 'application/json', JSON.stringify({ relayUrl: relay.url }));
      case '/token': {
        const user = url.searchParams.get('user') ?? '';
        const device = url.searchParams.get('device') ?? '';
        if (!idPattern.test(user) || !idPattern.test(device)) return send(res, 400, 'text/plain', 'user and device: 1-64 of A-Z a-z 0-9 . _ : @ + = -');
        const now = Math.floor(Date.now() / 1000);
        const jwt = await new SignJWT({ sub: user, did: device, iat: now, exp: now + 12 * 3600 }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
        return send(res, 200, 'text/plain', jwt);
      }
      default:
        return send(res, 404, 'text/plain', 'not found');
    }
  })().catch((err: unknown) => send(res, 500, 'text/plain', String(err)));
});

server.listen(Number(process.env['DEMO_PORT'] ?? 8090), host, () => {
  const { port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ msg: 'demo listening', url: `http://${host}:${port}/`, relay: relay.url }));
});

let stopping = false;
const shutdown = async () => {
  stopping = true;
  server.close();
  await relay.stop('SIGTERM');
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
void relay.exited.then((code) => {
  if (stopping) return;
  console.error(JSON.stringify({ msg: 'relay exited', code }));
  process.exit(1);
});
