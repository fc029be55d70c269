/**
 * Baseline for cross-node delivery: the bare uWebSockets.js forwarder
 * (bare-uws.ts) made multi-node the obvious way. Every node subscribes to
 * a channel per connected user; a send to a user not connected here is one
 * PUBLISH of that frame, written as it comes (no batching, no pipelining,
 * no backpressure), and the node holding the user sends what it receives.
 * The sender is acked at once. No durability and no limits.
 */
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import type { WebSocket } from 'uWebSockets.js';

const uws = createRequire(import.meta.url)('uWebSockets.js') as typeof import('uWebSockets.js');
const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `${process.env['REDIS_PREFIX'] ?? 'naive'}:u:`;
const pub = new Redis(url);
const sub = new Redis(url);
interface Data {
  id: string;
}
const sockets = new Map<string, WebSocket<Data>>();
sub.on('messageBuffer', (channel: Buffer, payload: Buffer) => sockets.get(channel.toString().slice(prefix.length))?.send(payload, false));

const app = uws.App();
app.ws<Data>('/ws', {
  maxPayloadLength: 256 * 1024,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    const id = new URLSearchParams(req.getQuery() ?? '').get('id') ?? '';
    res.upgrade({ id }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  },
  open: (ws) => {
    const { id } = ws.getUserData();
    sockets.set(id, ws);
    void sub.subscribe(prefix + id);
  },
  message: (ws, message) => {
    const text = Buffer.from(message).toString();
    const frame = JSON.parse(text) as { type: string; id?: string; payload: { to?: string } };
    if (frame.type === 'send' && frame.payload.to) {
      const out = JSON.stringify({ type: 'deliver', message_id: frame.id, sender_id: ws.getUserData().id, payload: frame.payload });
      const local = sockets.get(frame.payload.to);
      if (local) local.send(out);
      else void pub.publish(prefix + frame.payload.to, out);
      ws.send(JSON.stringify({ type: 'sent_ack', message_id: frame.id, payload: { status: 'sent' } }));
    }
  },
  close: (ws) => {
    const { id } = ws.getUserData();
    sockets.delete(id);
    void sub.unsubscribe(prefix + id);
  },
});
await Promise.all([pub, sub].map((c) => (c.status === 'ready' ? undefined : new Promise((r) => c.once('ready', r)))));
app.listen('127.0.0.1', Number(process.env['PORT'] ?? 0), (ls) => {
  if (!ls) process.exit(1);
  console.log(JSON.stringify({ msg: 'relay listening', port: uws.us_socket_local_port(ls) }));
});
