import { pino, stdSerializers, stdTimeFunctions, type Logger as Pino } from 'pino';

/**
 * The relay's structured log: pino, one JSON object per line, so a log
 * shipper reads it without a parser of its own.
 *
 * What is guaranteed:
 * - Each line has `level` as a word (`info`, `warn`, ...), `time` as an
 *   ISO timestamp, `msg`, the bindings of its logger (`node`; `user` and
 *   `device` on a connection's logger), then the caller's fields.
 * - An `err` field that is an Error keeps its type, message and stack
 *   (and its `cause`), whatever the level.
 * - No message content is ever logged: callers pass ids, codes and counts.
 *
 * The relay logs on events (a socket refused, a store failing), never per
 * frame, so a synchronous write to stdout costs nothing that matters and
 * loses no line when the process exits.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose every line also carries `bindings` (a connection's user and device, say). */
  child(bindings: Record<string, unknown>): Logger;
}

/** `write` receives each line with its newline; stdout unless given. */
export function createLogger(level: LogLevel, base: Record<string, unknown> = {}, write?: (line: string) => void): Logger {
  const options = {
    level,
    base,
    messageKey: 'msg',
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: stdSerializers.err },
  };
  return wrap(write ? pino(options, { write }) : pino(options));
}

function wrap(p: Pino): Logger {
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    child: (bindings) => wrap(p.child(bindings)),
  };
}
