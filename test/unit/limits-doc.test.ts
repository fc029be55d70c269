import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { limitsMarkdown } from '../../src/limits/limits-doc.ts';
import { limitsTable } from '../../src/limits/limits-table.ts';

describe('the published limits', () => {
  it('SECURITY.md carries the limits table exactly as the code defines it', () => {
    const security = readFileSync(path.resolve(import.meta.dirname, '../../SECURITY.md'), 'utf8');
    expect(security).toContain(limitsMarkdown());
  });

  it('every limit is configurable and defaults to its documented value', () => {
    const c = loadConfig({}) as unknown as Record<string, number>;
    for (const l of Object.values(limitsTable)) expect(c[l.env]).toBe(l.default);
    const changed = loadConfig({ RATE_MESSAGES_BURST: '7' });
    expect(changed.RATE_MESSAGES_BURST).toBe(7);
    expect(() => loadConfig({ RATE_MESSAGES_BURST: '0' })).toThrow(/RATE_MESSAGES_BURST/);
  });
});
