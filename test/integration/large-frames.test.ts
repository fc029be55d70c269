import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import WebSocket from 'ws';
import { SendCoalescer } from '../../src/transport/send-coalescer.ts';
import { FRAGMENT_BYTES } from '../../src/transport/text-send.ts';
import { UwsConnection } from '../../src/transport/uws-connection.ts';
import { loadNativeUws } from '../../src/transport/uws.ts';

/**
 * The relay's own send path (UwsConnection over uWS) writing large text
 * frames to a reader whose TCP window keeps closing and opening. Each frame
 * is written as soon as nothing is buffered, which is when this uWS build's
 * large-send shortcut runs: it dropped a payload whenever the kernel took
 * only the header, and the client then stalled or closed on invalid UTF-8.
 * Every frame must arrive whole and in order.
 */
const uws = loadNativeUws();
const LIMIT = 64 * 1024 * 1024;

describe('large frames through a stop-and-go reader', () => {
  let app: TemplatedApp;
  let listen: us_listen_socket;
  let port = 0;
  /** The server side of the latest test socket, the limit it gets, and what to do when it has room. */
  let conn: UwsConnection<unknown> | undefined;
  let limit = LIMIT;
  let pump = (): void => {};
  const coalescer = new SendCoalescer((err) => {
    throw err;
  });

  beforeAll(async () => {
    app = uws.App().ws('/*', {
      maxBackpressure: LIMIT,
      closeOnBackpressureLimit: 1,
      compression: uws.DISABLED,
      open: (ws) => {
        conn = new UwsConnection(ws, coalescer, limit);
        conn.onFlushed = () => pump();
      },
      drain: () => pump(),
      close: () => {
        if (conn) conn.closed = true;
      },
    });
    await new Promise<void>((resolve, reject) =>
      app.listen('127.0.0.1', 0, (ls) => {
        if (!ls) return reject(new Error('listen failed'));
        listen = ls;
        port = uws.us_socket_local_port(ls);
        resolve();
      }),
    );
  });
  afterAll(() => uws.us_listen_socket_close(listen));

  it('delivers every frame whole and in order, multi-byte characters across fragment edges included', async () => {
    const count = 1200;
    // ASCII frames like base64 ciphertext, and every fifth one with 2-, 3- and 4-byte characters
    // so that fragment edges fall inside a character.
    const frame = (i: number) => JSON.stringify({ i, body: i % 5 === 0 ? 'é€😀'.repeat(6000) : 'A'.repeat(40 * 1024 + (i % 7)) });
    expect(Buffer.byteLength(frame(0))).toBeGreaterThan(3 * FRAGMENT_BYTES);
    const client = new WebSocket(`ws://127.0.0.1:${port}`, { maxPayload: 1 << 20 });
    const socket = () => (client as unknown as { _socket: net.Socket })._socket;
    await new Promise((resolve) => client.once('open', resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (!conn) throw new Error('the server never saw the socket');

    const received: number[] = [];
    let bad = 0;
    const done = new Promise<void>((resolve, reject) => {
      client.on('message', (data) => {
        const text = String(data);
        const o = JSON.parse(text) as { i: number };
        if (text !== frame(o.i)) bad++;
        received.push(o.i);
        if (received.length === count) resolve();
      });
      client.on('close', (code, reason) => reject(new Error(`closed ${code} ${String(reason)} after ${received.length} frames`)));
    });
    let next = 0;
    // Write whenever nothing is buffered, the state in which the shortcut is taken, flushing each
    // frame at once so that back-to-back writes fill the kernel's buffer to the brim.
    pump = () => {
      while (conn && !conn.closed && next < count && conn.bufferedAmount() === 0) {
        conn.send(frame(next++));
        coalescer.flushAll();
      }
    };
    pump();
    const tick = setInterval(pump, 1);
    let reading = true;
    const flip = setInterval(() => ((reading = !reading) ? socket().resume() : socket().pause()), 3);
    try {
      await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`stalled after ${received.length} of ${count} frames`)), 30_000))]);
    } finally {
      clearInterval(tick);
      clearInterval(flip);
      socket().resume();
      client.close();
    }
    expect(bad).toBe(0);
    expect(received).toEqual(Array.from({ length: count }, (_, i) => i));
  }, 90_000);

  it('closes the socket (1013) instead of skipping a frame when a send would pass the backpressure limit', async () => {
    limit = 256 * 1024;
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    const socket = () => (client as unknown as { _socket: net.Socket })._socket;
    await new Promise((resolve) => client.once('open', resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const server = conn!;
    socket().pause();
    const received: number[] = [];
    client.on('message', (data) => received.push((JSON.parse(String(data)) as { i: number }).i));
    const closed = new Promise<number>((resolve) => client.once('close', resolve));
    // Write until the limit is reached; the relay's sessions stop at half of it, replies may not.
    let accepted = 0;
    for (let i = 0; i < 1000; i++) {
      if (server.send(JSON.stringify({ i, body: 'B'.repeat(8 * 1024) })) === 'dropped') break;
      accepted++;
      if (i % 4 === 3) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(accepted).toBeLessThan(1000);
    socket().resume();
    expect(await closed).toBe(1013);
    // Everything sent before the refused frame arrived, in order, and nothing after it.
    expect(received).toEqual(Array.from({ length: accepted }, (_, i) => i));
    limit = LIMIT;
  });
});
