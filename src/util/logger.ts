/**
 * A small structured logger: one JSON object per line on stdout, so a log
 * shipper can read it without a parser of its own. No message content is
 * ever logged; callers pass ids and counts only.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: LogLevel, base: Record<string, unknown> = {}, write = (line: string) => process.stdout.write(line)): Logger {
  const min = rank[level];
  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void => {
    if (rank[lvl] < min) return;
    const err = fields?.['err'];
    const extra = err instanceof Error ? { ...fields, err: { name: err.name, message: err.message } } : fields;
    write(`${JSON.stringify({ t: new Date().toISOString(), level: lvl, msg, ...base, ...extra })}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
