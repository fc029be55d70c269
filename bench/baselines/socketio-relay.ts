/**
 * Baseline: the relay people write instead, on socket.io. The token is
 * verified with jose in the handshake middleware (HS256, like the relay's
 * development setup), each socket joins a room named after its user, a
 * `send` event is emitted to the recipient's room as `deliver`, and the
 * sender gets `sent_ack`. WebSocket transport only, no durability, no
 * limits: the same routing as the bare uWebSockets.js forwarder.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import { Server } from 'socket.io';

const key = new TextEncoder().encode(process.env['JWT_SECRET'] ?? '');
const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, maxHttpBufferSize: 256 * 1024 });

io.use((socket, next) => {
  const token = (socket.handshake.auth as { token?: string }).token;
  if (!token) return next(new Error('no token'));
  jwtVerify(token, key, { algorithms: ['HS256'] }).then(
    ({ payload }) => {
      socket.data.user = payload.sub;
      next();
    },
    () => next(new Error('bad token')),
  );
});

io.on('connection', (socket) => {
  const user = socket.data.user as string;
  void socket.join(user);
  socket.on('send', (frame: { id: string; to: string; ciphertext: string }) => {
    io.to(frame.to).emit('deliver', { message_id: frame.id, sender_id: user, ciphertext: frame.ciphertext });
    socket.emit('sent_ack', { message_id: frame.id });
  });
  socket.on('delivery_ack', () => {});
});

http.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'relay listening', port: (http.address() as AddressInfo).port }));
});
