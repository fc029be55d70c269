import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm run lint` (run by .ci/run) is Biome with the project's biome.json:
 * a file that is not formatted as Biome formats it, or that breaks a lint
 * rule, fails it. The project's own rules and formatter settings, applied
 * to files in a scratch directory.
 */
const root = path.resolve(import.meta.dirname, '../..');
const biome = path.join(root, 'node_modules', '.bin', 'biome');

function check(source: string): number {
  const dir = mkdtempSync(path.join(tmpdir(), 'lint-'));
  const config = JSON.parse(readFileSync(path.join(root, 'biome.json'), 'utf8')) as Record<string, unknown>;
  delete config['$schema'];
  delete config['vcs'];
  config['files'] = { includes: ['**'] };
  writeFileSync(path.join(dir, 'biome.json'), JSON.stringify(config));
  writeFileSync(path.join(dir, 'file.ts'), source);
  return spawnSync(biome, ['check', `--config-path=${dir}`, path.join(dir, 'file.ts')], { encoding: 'utf8' }).status ?? -1;
}

describe('lint and format check', () => {
  it('passes a file as Biome formats it, and fails one formatted otherwise or breaking a rule', () => {
    expect(check('const a = 1;\nexport { a };\n')).toBe(0);
    expect(check('const a =1\nexport {a}\n')).toBe(1);
    expect(check('let b;\nb = 2;\nexport { b };\n')).toBe(1);
  });
});
