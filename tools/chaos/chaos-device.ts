import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

export interface Frame {
  type: string;
  id?: string;
  message_id?: string;
  payload: Record<string, unknown>;
}

export interface DeviceOptions {
  user: string;
  device: string;
  /** Every node's WebSocket URL: the device starts at `first` and moves to the next one after each lost socket. */
  urls: string[];
  first: number;
  token: () => Promise<string>;
  onFrame: (f: Frame) => void;
  /** Called each time the device is connected and approved (its backlog may still be arriving). */
  onReady: () => void;
  /** Close codes and refused upgrades, for the report. */
  onClose: (what: string) => void;
}

/**
 * One device of a chaos run: a raw WebSocket client that registers once
 * (the first device of its user becomes the primary), and after any lost
 * socket reconnects to the next node after a short jittered wait, the way
 * a client behind a balancer would land elsewhere.
 */
export class ChaosDevice {
  private ws: WebSocket | undefined;
  private next: number;
  private stopped = false;
  private registered = false;
  ready = false;
  /** Sockets opened so far, and whether this one has had its queue_empty: where a frame came, for the ledger's trace. */
  private sockets = 0;
  private live = false;

  constructor(private readonly o: DeviceOptions) {
    this.next = o.first;
  }

  start(): void {
    void this.connect();
  }

  send(frame: Record<string, unknown>): boolean {
    if (!this.ready || this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Drops the socket without a close handshake (a lost network); the device reconnects. */
  drop(): void {
    this.ws?.terminate();
  }

  /** Stops reading the socket for `ms`: the relay sees a slow consumer. */
  stall(ms: number): void {
    const socket = (this.ws as unknown as { _socket?: { pause(): void; resume(): void } } | undefined)?._socket;
    socket?.pause();
    setTimeout(() => socket?.resume(), ms).unref();
  }

  /** Which node and socket this device is on, and whether its backlog was done: `n1#3 live`. */
  get where(): string {
    return `n${(this.next - 1) % this.o.urls.length}#${this.sockets}${this.live ? ' live' : ' backlog'}`;
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const url = this.o.urls[this.next % this.o.urls.length]!;
    this.next++;
    this.sockets++;
    this.live = false;
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${await this.o.token()}` }, handshakeTimeout: 5000 });
    this.ws = ws;
    ws.on('open', () => {
      if (!this.registered) {
        ws.send(JSON.stringify({ type: 'device_register', payload: { identity_key: randomBytes(32).toString('base64'), device_name: this.o.device, device_type: 'chaos' } }));
      }
    });
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as Frame;
      if (f.type === 'queue_empty') this.live = true;
      if (f.type === 'device_approved' || (f.type === 'queue_empty' && !this.ready)) {
        this.registered = true;
        if (!this.ready) {
          this.ready = true;
          this.o.onReady();
        }
      }
      this.o.onFrame(f);
    });
    ws.on('unexpected-response', (_req, res) => this.o.onClose(`http ${res.statusCode}`));
    ws.on('error', () => {});
    ws.on('close', (code) => {
      if (this.ws !== ws) return;
      this.ready = false;
      this.o.onClose(`close ${code}`);
      if (this.stopped) return;
      setTimeout(() => void this.connect(), 200 + Math.random() * 600).unref();
    });
  }
}
