import type { WebSocket } from 'uWebSockets.js';
import { CloseCode } from '../protocol/close-codes.ts';
import type { Connection, SendStatus } from '../session/connection.ts';
import type { SendCoalescer } from './send-coalescer.ts';
import { sendText } from './text-send.ts';

/**
 * The session's view of a uWebSockets.js socket.
 *
 * - Sends are queued and written once per turn of the event loop, all of a
 *   socket's frames inside one `cork`, so they leave in one write. Most
 *   sends happen in promise continuations (after a commit, a drain read):
 *   corking each one alone costs a syscall per frame, and uncorked they
 *   could sit in uWS's cork buffer until something else woke the loop.
 * - Queued bytes count as buffered, so the session's pacing and the
 *   backpressure limit see them before they reach uWS. When a flush leaves
 *   nothing buffered in uWS, uWS will not emit `drain`, so the flush itself
 *   tells the owner (`onFlushed`) that there may be room again.
 * - A uWS socket must not be touched after its close event, and sessions
 *   can outlive that by a few microtasks, so every call checks `closed`.
 */
/** Frames and bytes written to every socket of this process, for the metrics. */
export const sentTotals = { frames: 0, bytes: 0 };

export class UwsConnection<U> implements Connection {
  closed = false;
  /** Called after each flush; the session resumes a paused drain from here. */
  onFlushed: (() => void) | undefined;
  private queue: string[] = [];
  private queuedBytes = 0;

  constructor(
    private readonly ws: WebSocket<U>,
    private readonly coalescer: SendCoalescer,
    private readonly maxBackpressure: number,
  ) {}

  send(text: string): SendStatus {
    if (this.closed) return 'dropped';
    const buffered = this.bufferedAmount();
    // The rule uWS applies at its limit (closeOnBackpressureLimit), checked here because the bytes
    // reach uWS only at the flush: the frame is not sent and the socket is closed, so nothing is
    // silently missing from the stream; unacked messages stay queued for the next connection. The
    // close runs after the caller's frame, outside its call stack.
    if (buffered + text.length > this.maxBackpressure) {
      queueMicrotask(() => this.close(CloseCode.tryAgainLater, 'backpressure limit'));
      return 'dropped';
    }
    if (this.queue.length === 0) this.coalescer.schedule(this);
    this.queue.push(text);
    this.queuedBytes += text.length;
    return buffered === 0 ? 'sent' : 'buffered';
  }

  /** Writes the queued frames in one corked batch. */
  flush(): void {
    if (this.queue.length === 0) return;
    const frames = this.queue;
    sentTotals.frames += frames.length;
    sentTotals.bytes += this.queuedBytes;
    this.queue = [];
    this.queuedBytes = 0;
    if (this.closed) return;
    this.ws.cork(() => {
      for (const f of frames) sendText(this.ws, f);
    });
    this.onFlushed?.();
  }

  close(code: CloseCode, reason: string): void {
    if (this.closed) return;
    // Frames sent before the close (an error frame, say) go out first.
    this.flush();
    this.closed = true;
    this.ws.end(code, reason);
  }

  bufferedAmount(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount() + this.queuedBytes;
  }
}
