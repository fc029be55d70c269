import type { WebSocket } from 'uWebSockets.js';
import type { CloseCode } from '../protocol/close-codes.ts';
import type { Connection, SendStatus } from '../session/connection.ts';

/**
 * The session's view of a uWebSockets.js socket.
 *
 * - A uWS socket must not be touched after its close event, and sessions
 *   can outlive that by a few microtasks, so every call checks `closed`.
 * - Most sends happen in promise continuations (after a commit, a drain
 *   read), outside any uWS callback. uWS then leaves the bytes in its cork
 *   buffer until something else wakes the loop, which can be never; so
 *   every send runs inside `cork`, which flushes when it returns (a cork
 *   inside a callback that is already corked just runs the function).
 */
export class UwsConnection<U> implements Connection {
  closed = false;

  constructor(private readonly ws: WebSocket<U>) {}

  send(text: string): SendStatus {
    if (this.closed) return 'dropped';
    let r = 2;
    this.ws.cork(() => {
      r = this.ws.send(text, false, false);
    });
    return r === 1 ? 'sent' : r === 0 ? 'buffered' : 'dropped';
  }

  close(code: CloseCode, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.end(code, reason);
  }

  bufferedAmount(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }

  cork(fn: () => void): void {
    if (this.closed) fn();
    else this.ws.cork(fn);
  }
}
