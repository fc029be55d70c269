import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { freePort } from '../../tools/relay-process.ts';

const require = createRequire(import.meta.url);

export interface WebPushService {
  /** Origin of the service, for PUSH_WEBPUSH_ORIGINS. */
  origin: string;
  /** A browser's subscription against `applicationServerKey`, as PushSubscription.toJSON() gives it, with its hash. */
  subscribe(applicationServerKey: string): Promise<{ endpoint: string; keys: { p256dh: string; auth: string }; clientHash: string }>;
  /** The decrypted payloads the subscription received, in order. */
  received(clientHash: string): Promise<string[]>;
  /** Makes the push service answer 410 for the subscription from now on. */
  expire(clientHash: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Web Push service on loopback (the web-push-testing package): it
 * checks the VAPID signature against the subscription's key, decrypts
 * each payload as a browser would (RFC 8291), and keeps what arrived.
 * Runs in the test process; one per test file.
 */
export async function startWebPushService(): Promise<WebPushService> {
  const Server = require('web-push-testing/src/server.js') as new (model: unknown, port: number) => { startServer(): void; _server: Server };
  const { PushApiModel } = require('web-push-testing/src/PushApiModel.js') as { PushApiModel: new () => unknown };
  const port = await freePort();
  const service = new Server(new PushApiModel(), port);
  const log = console.log;
  console.log = () => {};
  try {
    service.startServer();
    await new Promise<void>((resolve) => (service._server.listening ? resolve() : service._server.once('listening', () => resolve())));
  } finally {
    console.log = log;
  }
  const origin = `http://localhost:${port}`;
  const post = async (path: string, body?: unknown) => {
    const res = await fetch(`${origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`web push service ${path}: ${res.status} ${text}`);
    return text.startsWith('{') ? (JSON.parse(text) as { data: unknown }) : undefined;
  };
  return {
    origin,
    subscribe: async (applicationServerKey) =>
      (await post('/subscribe', { userVisibleOnly: 'true', applicationServerKey }))!.data as { endpoint: string; keys: { p256dh: string; auth: string }; clientHash: string },
    received: async (clientHash) => ((await post('/get-notifications', { clientHash }))!.data as { messages: string[] }).messages,
    expire: async (clientHash) => void (await post(`/expire-subscription/${clientHash}`)),
    stop: () => new Promise<void>((resolve) => service._server.close(() => resolve())),
  };
}
