import type { WebSocket } from 'uWebSockets.js';

/**
 * Fragments go out below this many bytes each. In this uWS build (v20.30),
 * `send` takes a shortcut for a message of 16 KiB or more when nothing is
 * buffered or corked: it writes header and payload in one syscall, and when
 * the kernel takes no more than the header it keeps only the rest of the
 * header, dropping the payload (fixed upstream in uWebSockets PR 1662). The
 * client then reads the next frames as that payload: a stalled stream or an
 * "invalid UTF-8" close. Fragments under 16 KiB never take that path.
 */
export const FRAGMENT_BYTES = 15 * 1024;

/** No string this short can encode to FRAGMENT_BYTES of UTF-8 (at most 3 bytes per UTF-16 unit). */
const SHORT_CHARS = Math.floor(FRAGMENT_BYTES / 3);

/**
 * Sends one text message. Large ones are encoded once and sent as a
 * fragmented message (RFC 6455 section 5.4); the receiver sees one message.
 * uWS checks its backpressure limit per call, so the caller must have
 * checked that the whole message fits, as UwsConnection does.
 */
export function sendText<U>(ws: WebSocket<U>, text: string): void {
  if (text.length <= SHORT_CHARS) {
    ws.send(text, false, false);
    return;
  }
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length < FRAGMENT_BYTES) {
    ws.send(bytes, false, false);
    return;
  }
  let at = FRAGMENT_BYTES;
  ws.sendFirstFragment(bytes.subarray(0, at), false, false);
  for (; bytes.length - at > FRAGMENT_BYTES; at += FRAGMENT_BYTES) ws.sendFragment(bytes.subarray(at, at + FRAGMENT_BYTES), false);
  ws.sendLastFragment(bytes.subarray(at), false);
}
