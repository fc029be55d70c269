import { errorCodes, type ErrorCode } from '../src/protocol/error-codes.ts';
import type { ErrorFrame } from '../src/protocol/server-frame-shapes.ts';

/** An `error` frame the relay answered a request with. */
export class RelayError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly payload: ErrorFrame['payload'];

  constructor(frame: ErrorFrame) {
    super(`${frame.payload.error_code}: ${frame.payload.message}`);
    this.name = 'RelayError';
    this.code = frame.payload.error_code;
    this.retryable = errorCodes[frame.payload.error_code]?.retryable ?? false;
    this.payload = frame.payload;
  }
}

/** The client stopped for good (closed by the application, or a close code that forbids reconnecting). */
export class ClientStoppedError extends Error {
  constructor(readonly why: string) {
    super(`relay client stopped: ${why}`);
    this.name = 'ClientStoppedError';
  }
}

/** A request got no answer in time. */
export class RequestTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer from the relay within ${ms} ms`);
    this.name = 'RequestTimeoutError';
  }
}
