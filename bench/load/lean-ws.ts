import net from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * A minimal RFC 6455 client over `net`, for load generation: text frames
 * only, answers pings, no extensions. It masks with an all-zero key (a
 * legal mask that leaves the payload as it is) so the generator spends its
 * CPU on the workload, not on XOR; a real client must use random keys.
 */
export class LeanWs {
  private buf: Buffer = Buffer.alloc(0);
  private readonly parts: Buffer[] = [];
  onMessage: (text: string) => void = () => {};
  onClose: (code: number) => void = () => {};

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d) => this.read(d));
    socket.on('close', () => this.onClose(1006));
    socket.on('error', () => {});
  }

  static connect(port: number, path: string, headers: Record<string, string>): Promise<LeanWs> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      let head = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onData);
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!status.includes(' 101 ')) {
          socket.destroy();
          return reject(new Error(status));
        }
        const ws = new LeanWs(socket);
        resolve(ws);
        // Bytes that came with the 101 (a server that speaks first, like
        // Engine.IO) are read after the caller has had the chance to set onMessage.
        const rest = head.subarray(end + 4);
        if (rest.length) setImmediate(() => ws.read(rest));
      };
      socket.on('data', onData);
      socket.once('error', reject);
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n${extra}\r\n`,
      );
    });
  }

  send(text: string): void {
    const payload = Buffer.from(text);
    const n = payload.length;
    const header = n < 126 ? Buffer.alloc(6) : n < 65536 ? Buffer.alloc(8) : Buffer.alloc(14);
    header[0] = 0x81;
    if (n < 126) header[1] = 0x80 | n;
    else if (n < 65536) {
      header[1] = 0x80 | 126;
      header.writeUInt16BE(n, 2);
    } else {
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(n), 2);
    }
    // The last four header bytes are the (zero) mask key.
    this.socket.write(Buffer.concat([header, payload]));
  }

  close(): void {
    this.socket.destroy();
  }

  private read(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length < 2) return;
      const op = this.buf[0]! & 0x0f;
      const fin = (this.buf[0]! & 0x80) !== 0;
      let len = this.buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      if (this.buf.length < at + len) return;
      const payload = this.buf.subarray(at, at + len);
      this.buf = this.buf.subarray(at + len);
      if (op === 1 && fin) this.onMessage(payload.toString());
      else if (op === 1 || op === 0) {
        // A fragmented message (the relay splits frames of 15 KiB or more): text, continuations, then one with FIN.
        this.parts.push(Buffer.from(payload));
        if (op === 0 && fin) this.onMessage(Buffer.concat(this.parts.splice(0)).toString());
      } else if (op === 9) this.pong(payload);
      else if (op === 8) this.onClose(payload.length >= 2 ? payload.readUInt16BE(0) : 1005);
    }
  }

  private pong(payload: Buffer): void {
    this.socket.write(Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
  }
}
