import WebSocket from 'ws';
import { token } from './tokens.ts';

export interface Frame {
  type: string;
  id?: string;
  message_id?: string;
  sender_id?: string;
  sender_device?: string;
  timestamp?: string;
  payload: Record<string, unknown> & { error_code?: string; status?: string; ciphertext?: string };
}

/**
 * A real WebSocket client for tests: records every frame and lets a test
 * wait for the next one that matches.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  private cursor = 0;
  private waiters: (() => void)[] = [];
  closeCode: number | undefined;
  /** The last socket error, if any (a protocol violation by the server shows up here). */
  error: Error | undefined;
  readonly closed: Promise<number>;

  /** Listeners are attached before the socket opens: the first frame can arrive in the same tick as `open`. */
  private constructor(
    readonly ws: WebSocket,
    readonly user: string,
    readonly device: string,
  ) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame);
      this.wake();
    });
    ws.on('error', (err) => {
      this.error = err;
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.closeCode = code;
        this.wake();
        resolve(code);
      }),
    );
  }

  /** `carrier: 'none'` adds no token: the test puts it in `headers` itself (a cookie, say). */
  static async connect(
    url: string,
    user: string,
    device: string,
    opts: { token?: string; carrier?: 'query' | 'header' | 'subprotocol' | 'none'; headers?: Record<string, string> } = {},
  ): Promise<TestClient> {
    const jwt = opts.token ?? (await token(user, device));
    const carrier = opts.carrier ?? 'header';
    const ws =
      carrier === 'query'
        ? new WebSocket(`${url}?token=${encodeURIComponent(jwt)}`)
        : carrier === 'subprotocol'
          ? new WebSocket(url, ['bearer', jwt])
          : carrier === 'none'
            ? new WebSocket(url, { headers: { ...opts.headers } })
            : new WebSocket(url, { headers: { ...opts.headers, authorization: `Bearer ${jwt}` } });
    const client = new TestClient(ws, user, device);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return client;
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** Waits for the next frame (after the last one taken) that matches; frames skipped stay readable via `frames`. */
  async next(match: string | ((f: Frame) => boolean), timeoutMs = 5000): Promise<Frame> {
    const test = typeof match === 'string' ? (f: Frame) => f.type === match : match;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.frames.length) {
        const f = this.frames[this.cursor++]!;
        if (test(f)) return f;
      }
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode}${this.error ? `, ${this.error.message}` : ''}) while waiting for ${String(match)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${String(match)}; got ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits until a matching frame has been received at any time, read or not; does not move the cursor. */
  async seen(match: string | ((f: Frame) => boolean), timeoutMs = 5000): Promise<Frame> {
    const test = typeof match === 'string' ? (f: Frame) => f.type === match : match;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.find(test);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0 || this.closeCode !== undefined) throw new Error(`never saw ${String(match)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Marks every frame received so far as read: the next `next` waits for a newer one. */
  skipReceived(): void {
    this.cursor = this.frames.length;
  }

  /** Frames of one type received so far. */
  all(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  async close(): Promise<void> {
    if (this.closeCode === undefined) {
      this.ws.close();
      await this.closed;
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** The HTTP status a failed upgrade got, or 101 when it succeeded. */
export async function upgradeStatus(url: string, opts: { headers?: Record<string, string>; protocols?: string[] } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers ?? {} });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', (e) => reject(e));
  });
}

export const b64 = (s: string): string => Buffer.from(s).toString('base64');
