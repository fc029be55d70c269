import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
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
 * - socketio: the socket.io relay, spoken as Engine.IO v4 / Socket.IO v5
 *   packets over the same lean WebSocket client.
 */
export type Target = 'relay' | 'bare' | 'socketio';

export interface Conn {
  onMessage: (text: string) => void;
  send(text: string): void;
  close(): void;
}

export interface Dialect {
  /** The WebSocket (and, for socket.io, its handshake) with the token checked. */
  upgrade(port: number, user: string, jwt: string): Promise<Conn>;
  /** What else a device does before it can send and receive (the relay: register as primary, get the backlog). */
  register(conn: Conn): Promise<void>;
  send(id: string, to: string, ciphertext: string): string;
  ack(id: string): string;
  isDeliver(t: string): boolean;
  isSentAck(t: string): boolean;
  isStatus(t: string): boolean;
}

export const mintToken = (secret: string, user: string, device = 'd1'): Promise<string> => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ did: device }).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setIssuedAt(now).setExpirationTime(now + 3600).sign(new TextEncoder().encode(secret));
};

const messageId = /"message_id":"([^"]+)"/;
export const idOf = (t: string): string | undefined => messageId.exec(t)?.[1];

const none = async () => {};

const relay: Dialect = {
  upgrade: (port, _user, jwt) => LeanWs.connect(port, '/ws', { authorization: `Bearer ${jwt}` }),
  // Each user's only device registers as its primary; it is then approved and gets its (empty) backlog.
  register: (ws) =>
    new Promise<void>((resolve) => {
      ws.onMessage = (t) => {
        if (t.includes('"queue_empty"')) resolve();
      };
      ws.send(JSON.stringify({ type: 'device_register', payload: { identity_key: randomBytes(32).toString('base64'), device_name: 'bench', device_type: 'bench' } }));
    }),
  send: (id, to, ct) => `{"type":"send","id":"${id}","payload":{"to":"${to}","messages":[{"device_id":"d1","ciphertext":"${ct}"}]}}`,
  ack: (id) => `{"type":"delivery_ack","payload":{"message_ids":["${id}"]}}`,
  isDeliver: (t) => t.startsWith('{"type":"deliver"'),
  isSentAck: (t) => t.startsWith('{"type":"sent_ack"'),
  isStatus: (t) => t.startsWith('{"type":"status_update"'),
};

const bare: Dialect = { ...relay, upgrade: (port, user) => LeanWs.connect(port, `/ws?id=${user}`, {}), register: none };

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
  send: (id, to, ct) => `42["send",{"id":"${id}","to":"${to}","ciphertext":"${ct}"}]`,
  ack: (id) => `42["delivery_ack",{"message_ids":["${id}"]}]`,
  isDeliver: (t) => t.startsWith('42["deliver"'),
  isSentAck: (t) => t.startsWith('42["sent_ack"'),
  isStatus: () => false,
};

export const dialects: Record<Target, Dialect> = { relay, bare, socketio };

/** A device ready to send and receive. */
export async function connectDevice(d: Dialect, port: number, user: string, jwt: string): Promise<Conn> {
  const conn = await d.upgrade(port, user, jwt);
  await d.register(conn);
  return conn;
}
