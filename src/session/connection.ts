import type { CloseCode } from '../protocol/close-codes.ts';

/** What a send did: written out, buffered behind a slow reader, or dropped past the backpressure limit. */
export type SendStatus = 'sent' | 'buffered' | 'dropped';

/**
 * The socket as the session sees it. The transport implements it over
 * uWebSockets.js; nothing above the transport imports uWebSockets.js.
 */
export interface Connection {
  send(text: string): SendStatus;
  close(code: CloseCode, reason?: string): void;
  /** Bytes accepted but not yet written to the network. */
  bufferedAmount(): number;
}
