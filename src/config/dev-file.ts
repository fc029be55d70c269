import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A development secret kept under DATA_DIR: read when it exists, else made
 * by `make` and written with mode 0600, so it survives a restart. When
 * another process of the same data directory writes it first, that one's
 * contents are used.
 */
export function keptDevFile(dataDir: string, name: string, make: () => string): { file: string; text: string } {
  const file = path.resolve(dataDir, name);
  try {
    return { file, text: readFileSync(file, 'utf8') };
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const text = make();
    try {
      writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
      return { file, text };
    } catch {
      return { file, text: readFileSync(file, 'utf8') };
    }
  }
}
