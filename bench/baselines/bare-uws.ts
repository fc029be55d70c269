/**
 * Baseline: the least a uWebSockets.js forwarder can do with the same
 * traffic. The query names the socket's user and device (no token),
 * frames are JSON-parsed, each addressed device is found in a map and sent
 * its ciphertext, and the sender gets an ack. No durability, no limits: the ceiling of
 * this stack on this machine.
 */
import { createRequire } from 'node:module';
import type { WebSocket } from 'uWebSockets.js';

const uws = createRequire(import.meta.url)('uWebSockets.js') as typeof import('uWebSockets.js');
interface Data {
  id: string;
  /** user/device: the key of this socket. */
  key: string;
}
const sockets = new Map<string, WebSocket<Data>>();
const app = uws.App();
app.ws<Data>('/ws', {
  maxPayloadLength: 256 * 1024,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    const q = new URLSearchParams(req.getQuery() ?? '');
    const id = q.get('id') ?? '';
    res.upgrade({ id, key: `${id}/${q.get('device') ?? 'd1'}` }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  },
  open: (ws) => void sockets.set(ws.getUserData().key, ws),
  message: (ws, message) => {
    const text = Buffer.from(message).toString();
    const frame = JSON.parse(text) as { type: string; id?: string; payload: { to?: string; messages?: { device_id: string; ciphertext: string }[] } };
    const { to, messages } = frame.payload;
    if (frame.type === 'send' && to && messages) {
      for (const m of messages) {
        sockets.get(`${to}/${m.device_id}`)?.send(JSON.stringify({ type: 'deliver', message_id: frame.id, sender_id: ws.getUserData().id, payload: { ciphertext: m.ciphertext } }));
      }
      ws.send(JSON.stringify({ type: 'sent_ack', message_id: frame.id, payload: { status: 'sent' } }));
    }
  },
  close: (ws) => void sockets.delete(ws.getUserData().key),
});
app.listen('127.0.0.1', Number(process.env['PORT'] ?? 0), (ls) => {
  if (!ls) process.exit(1);
  console.log(JSON.stringify({ msg: 'relay listening', port: uws.us_socket_local_port(ls) }));
});
