import { createHmac, randomBytes } from 'node:crypto';
import { LeanWs } from './lean-ws.ts';

/**
 * How the load generators speak to each target. Frames are built as
 * strings and recognised by prefix, so every target costs the generator
 * about the same per message.
 *
 * - relay: the full protocol (token at the upgrade, device_register, send,
 *   delivery_ack; the recipient's ack makes a status_update for the sender,
 *   which the sender acks too).
 * - bare: the bare uWebSockets.js forwarder (no auth, send → deliver + sent_ack).
 * - naive-redis: the bare forwarder over Redis pub/sub (same frames as bare).
 * - socketio: the socket.io relay, spoken as Engine.IO v4 / Socket.IO v5
 *   packets over the same lean WebSocket client.
 */
export type Target = 'relay' | 'bare' | 'socketio' | 'naive-redis';

export interface Conn {
  onMessage: (text: string) => void;
  send(text: string): void;
  close(): void;
}

export interface Dialect {
  /** The WebSocket (and, for socket.io, its handshake) with the token checked. */
  upgrade(port: number, user: string, jwt: string, device?: string): Promise<Conn>;
  /**
   * What else a device does before it can send and receive (the relay: a new
   * device registers as its user's primary; a known one waits for its backlog).
   */
  register(conn: Conn, known?: boolean): Promise<void>;
  /** One send addressed to each of `devices` of user `to` (one ciphertext each). */
  send(id: string, to: string, ciphertext: string, devices?: readonly string[]): string;
  ack(id: string): string;
  isDeliver(t: string): boolean;
  isSentAck(t: string): boolean;
  isStatus(t: string): boolean;
  /** A send refused because the target is overloaded (the relay's admission control); only the relay refuses. */
  isOverloaded(t: string): boolean;
}

const jwtHeader = Buffer.from('{"alg":"HS256"}').toString('base64url');

/**
 * An HS256 token for `user`'s `device`, valid for an hour. Signed with
 * node:crypto directly: the same compact JWS the relay verifies with jose,
 * at about a tenth of jose's cost (jose took half a second for the 4,500
 * tokens a generator mints before each connect storm).
 */
export const mintToken = (secret: string, user: string, device = 'd1'): string => {
  const now = Math.floor(Date.now() / 1000);
  const body = `${jwtHeader}.${Buffer.from(JSON.stringify({ did: device, sub: user, iat: now, exp: now + 3600 })).toString('base64url')}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
};

const messageId = /"message_id":"([^"]+)"/;
export const idOf = (t: string): string | undefined => messageId.exec(t)?.[1];

const none = async () => {};

/** With `--push` (bench/lib/push-endpoint.ts), every relay device registers a webhook token once approved. */
const pushToken = process.env['BENCH_PUSH_TOKENS'] === '1';
const pushRegister = `{"type":"push_register","payload":{"kind":"webhook","token":"bench-${randomBytes(6).toString('hex')}"}}`;

const relay: Dialect = {
  upgrade: (port, _user, jwt) => LeanWs.connect(port, '/ws', { authorization: `Bearer ${jwt}` }),
  // A user's first device registers as its primary; it is then approved and gets its backlog, then queue_empty.
  register: (ws, known = false) =>
    new Promise<void>((resolve) => {
      ws.onMessage = (t) => {
        if (!t.includes('"queue_empty"')) return;
        if (pushToken) ws.send(pushRegister);
        resolve();
      };
      if (!known) ws.send(JSON.stringify({ type: 'device_register', payload: { identity_key: randomBytes(32).toString('base64'), device_name: 'bench', device_type: 'bench' } }));
    }),
  send: (id, to, ct, devices = ['d1']) => `{"type":"send","id":"${id}","payload":{"to":"${to}","messages":[${devices.map((d) => `{"device_id":"${d}","ciphertext":"${ct}"}`).join(',')}]}}`,
  ack: (id) => `{"type":"delivery_ack","payload":{"message_ids":["${id}"]}}`,
  isDeliver: (t) => t.startsWith('{"type":"deliver"'),
  isSentAck: (t) => t.startsWith('{"type":"sent_ack"'),
  isStatus: (t) => t.startsWith('{"type":"status_update"'),
  isOverloaded: (t) => t.startsWith('{"type":"error"') && t.includes('"error_code":"overloaded"'),
};

const bare: Dialect = { ...relay, upgrade: (port, user, _jwt, device = 'd1') => LeanWs.connect(port, `/ws?id=${user}&device=${device}`, {}), register: none };

const socketio: Dialect = {
  register: none,
  async upgrade(port, _user, jwt) {
    const ws = await LeanWs.connect(port, '/socket.io/?EIO=4&transport=websocket', {});
    const conn: Conn = { onMessage: () => {}, send: (t) => ws.send(t), close: () => ws.close() };
    await new Promise<void>((resolve, reject) => {
      ws.onMessage = (t) => {
        if (t.startsWith('0{')) ws.send(`40${JSON.stringify({ token: jwt })}`);
        else if (t.startsWith('40')) resolve();
        else if (t.startsWith('44')) reject(new Error(t));
      };
    });
    // Engine.IO pings come from the server as "2" and want "3" back.
    ws.onMessage = (t) => (t === '2' ? ws.send('3') : conn.onMessage(t));
    return conn;
  },
  // socket.io fans out by itself: the recipient's sockets share a room, so one ciphertext goes to all of them.
  send: (id, to, ct) => `42["send",{"id":"${id}","to":"${to}","ciphertext":"${ct}"}]`,
  ack: (id) => `42["delivery_ack",{"message_ids":["${id}"]}]`,
  isDeliver: (t) => t.startsWith('42["deliver"'),
  isSentAck: (t) => t.startsWith('42["sent_ack"'),
  isStatus: () => false,
  isOverloaded: () => false,
};

export const dialects: Record<Target, Dialect> = { relay, bare, socketio, 'naive-redis': bare };

/** A device ready to send and receive. */
export async function connectDevice(d: Dialect, port: number, user: string, jwt: string, device = 'd1', known = false): Promise<Conn> {
  const conn = await d.upgrade(port, user, jwt, device);
  await d.register(conn, known);
  return conn;
}
