import { ChaosDevice, type Frame } from './chaos-device.ts';
import type { Ledger } from './ledger.ts';

export interface PairOptions {
  index: number;
  /** Prefix of this run's user ids. */
  run: string;
  urls: string[];
  /** Messages per second from the sender. */
  rate: number;
  token: (user: string, device: string) => Promise<string>;
  ledger: Ledger;
  now: () => number;
  onClose: (what: string) => void;
  onError: (code: string) => void;
}

const RESEND_AFTER_MS = 1500;

/**
 * A sender and a receiver on different nodes. The sender sends at a
 * steady rate with ids `m-<pair>-<seq>` and sends again, with the same id,
 * whatever has no sent_ack after a while or after a reconnect (the relay
 * stores an id once); the receiver acks each delivery. Both record what
 * they saw in the ledger.
 */
export class ChaosPair {
  readonly sender: ChaosDevice;
  readonly receiver: ChaosDevice;
  private seq = 0;
  /** Sequence numbers without a sent_ack, and when each was last sent. */
  readonly unacked = new Map<number, number>();
  private sendTimer: NodeJS.Timeout | undefined;
  private resendTimer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private toAck: { device: ChaosDevice; ids: string[] }[] = [];
  readonly senderUser: string;
  readonly receiverUser: string;

  constructor(private readonly o: PairOptions) {
    const senderUser = (this.senderUser = `${o.run}s${o.index}`);
    this.receiverUser = `${o.run}r${o.index}`;
    const n = o.urls.length;
    this.sender = new ChaosDevice({
      user: senderUser,
      device: 'd1',
      urls: o.urls,
      first: o.index % n,
      token: () => o.token(senderUser, 'd1'),
      onFrame: (f) => this.onSenderFrame(f),
      onReady: () => this.resend(0),
      onClose: o.onClose,
    });
    this.receiver = new ChaosDevice({
      user: this.receiverUser,
      device: 'd1',
      urls: o.urls,
      first: (o.index + 1) % n,
      token: () => o.token(this.receiverUser, 'd1'),
      onFrame: (f) => this.onReceiverFrame(f),
      onReady: () => {},
      onClose: o.onClose,
    });
  }

  start(): void {
    this.sender.start();
    this.receiver.start();
    this.resendTimer = setInterval(() => this.resend(RESEND_AFTER_MS), 250);
    this.ackTimer = setInterval(() => this.flushAcks(), 50);
  }

  /** Starts the steady traffic (once both devices are registered). */
  startSending(): void {
    this.sendTimer = setInterval(() => this.sendNext(), 1000 / this.o.rate);
  }

  stopSending(): void {
    clearInterval(this.sendTimer);
  }

  stop(): void {
    this.stopSending();
    clearInterval(this.resendTimer);
    clearInterval(this.ackTimer);
    this.sender.stop();
    this.receiver.stop();
  }

  private sendNext(): void {
    const seq = ++this.seq;
    this.o.ledger.sent(this.o.index, seq, this.o.now());
    this.unacked.set(seq, -Infinity);
    this.resend(RESEND_AFTER_MS);
  }

  /** Sends what has waited for its sent_ack longer than `afterMs`, oldest first. */
  private resend(afterMs: number): void {
    const now = this.o.now();
    for (const [seq, lastSent] of this.unacked) {
      if (now - lastSent < afterMs) continue;
      const id = `m-${this.o.index}-${seq}`;
      const frame = { type: 'send', id, payload: { to: this.receiverUser, messages: [{ device_id: 'd1', ciphertext: Buffer.from(id).toString('base64') }] } };
      if (!this.sender.send(frame)) return;
      this.o.ledger.sent(this.o.index, seq, now, this.sender.where);
      this.unacked.set(seq, now);
    }
  }

  private onSenderFrame(f: Frame): void {
    if (f.type === 'sent_ack' && f.message_id) {
      const seq = seqOf(f.message_id);
      if (seq === undefined) return;
      this.unacked.delete(seq);
      this.o.ledger.acked(this.o.index, seq, this.o.now(), this.sender.where);
    } else if (f.type === 'status_update' && f.message_id) {
      // Receipts are stored for the sender too: ack them, or they come back on every reconnect.
      this.queueAck(this.sender, f.message_id);
    } else if (f.type === 'error') {
      this.o.onError(String(f.payload['error_code']));
    }
  }

  private onReceiverFrame(f: Frame): void {
    if (f.type === 'deliver' && f.message_id) {
      const seq = seqOf(f.message_id);
      if (seq !== undefined) this.o.ledger.delivered(this.o.index, seq, this.o.now(), this.receiver.where);
      this.queueAck(this.receiver, f.message_id);
    } else if (f.type === 'error') {
      this.o.onError(String(f.payload['error_code']));
    }
  }

  private queueAck(device: ChaosDevice, id: string): void {
    const batch = this.toAck.find((b) => b.device === device);
    if (batch) batch.ids.push(id);
    else this.toAck.push({ device, ids: [id] });
  }

  /** Acks go in batches; a batch whose socket is gone is dropped, and the relay delivers those again. */
  private flushAcks(): void {
    for (const { device, ids } of this.toAck) {
      for (let i = 0; i < ids.length; i += 100) device.send({ type: 'delivery_ack', payload: { message_ids: ids.slice(i, i + 100) } });
    }
    this.toAck = [];
  }
}

function seqOf(id: string): number | undefined {
  const m = /^m-\d+-(\d+)$/.exec(id);
  return m ? Number(m[1]) : undefined;
}
