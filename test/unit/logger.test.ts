import { describe, expect, it } from 'vitest';
import { createLogger, type LogLevel } from '../../src/util/logger.ts';

function capture(level: LogLevel) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(level, { node: 'n1' }, (line) => {
    expect(line.endsWith('\n')).toBe(true);
    lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { log, lines };
}

describe('logger', () => {
  it('writes one JSON line per call with the level as a word, the base bindings and the fields', () => {
    const { log, lines } = capture('info');
    log.info('relay listening', { port: 8080 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', node: 'n1', msg: 'relay listening', port: 8080 });
    expect(Number.isNaN(Date.parse(String(lines[0]!['time'])))).toBe(false);
  });

  it('keeps the stack and cause of an error', () => {
    const { log, lines } = capture('info');
    const cause = new Error('connection reset');
    log.error('queue batch failed', { err: new Error('insert failed', { cause }) });
    const err = lines[0]!['err'] as { type: string; message: string; stack: string };
    expect(err.type).toBe('Error');
    expect(err.message).toContain('insert failed');
    expect(err.stack).toContain('logger.test.ts');
    expect(JSON.stringify(lines[0])).toContain('connection reset');
  });

  it('drops lines below the level, and everything when silent', () => {
    const warn = capture('warn');
    warn.log.info('not shown');
    warn.log.debug('not shown');
    warn.log.warn('shown');
    expect(warn.lines.map((l) => l['msg'])).toEqual(['shown']);
    const silent = capture('silent');
    silent.log.error('not shown');
    expect(silent.lines).toEqual([]);
  });

  it('gives a child logger that adds its bindings to every line and shares the level', () => {
    const { log, lines } = capture('info');
    const conn = log.child({ user: 'alice', device: 'phone' });
    conn.debug('not shown');
    conn.warn('backlog drain failed', { code: 1013 });
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', node: 'n1', user: 'alice', device: 'phone', code: 1013, msg: 'backlog drain failed' })]);
  });
});
