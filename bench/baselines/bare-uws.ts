/**
 * Baseline: the least a uWebSockets.js forwarder can do with the same
 * traffic. Token in the query names the socket (no verification), frames
 * are JSON-parsed, the recipient is found in a map, the frame is sent to
 * it, and the sender gets an ack. No durability, no limits: the ceiling of
 * this stack on this machine.
 */
import { createRequire } from 'node:module';
import type { WebSocket } from 'uWebSockets.js';

const uws = createRequire(import.meta.url)('uWebSockets.js') as typeof import('uWebSockets.js');
interface Data {
  id: string;
}
const sockets = new Map<string, WebSocket<Data>>();
const app = uws.App();
app.ws<Data>('/ws', {
  maxPayloadLength: 256 * 1024,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    const id = new URLSearchParams(req.getQuery() ?? '').get('id') ?? '';
    res.upgrade({ id }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  },
  open: (ws) => void sockets.set(ws.getUserData().id, ws),
  message: (ws, message) => {
    const text = Buffer.from(message).toString();
    const frame = JSON.parse(text) as { type: string; id?: string; payload: { to?: string; message_ids?: string[] } };
    if (frame.type === 'send' && frame.payload.to) {
      sockets.get(frame.payload.to)?.send(JSON.stringify({ type: 'deliver', message_id: frame.id, sender_id: ws.getUserData().id, payload: frame.payload }));
      ws.send(JSON.stringify({ type: 'sent_ack', message_id: frame.id, payload: { status: 'sent' } }));
    }
  },
  close: (ws) => void sockets.delete(ws.getUserData().id),
});
app.listen('127.0.0.1', Number(process.env['PORT'] ?? 0), (ls) => {
  if (!ls) process.exit(1);
  console.log(JSON.stringify({ msg: 'relay listening', port: uws.us_socket_local_port(ls) }));
});
