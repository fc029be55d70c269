import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { freePort, tempDir } from '../../tools/relay-process.ts';
import { TestClient } from '../helpers/ws-client.ts';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * What the README promises: on a checkout with its dependencies installed
 * (CI runs this suite on a fresh clone after `npm ci`), `npm start` with no
 * configuration at all serves the relay on PGlite and says where, and a
 * token from `npm run token` opens a socket.
 */
describe('npm start', () => {
  it('serves on PGlite with no configuration and logs where it listens', async () => {
    const dataDir = tempDir('npm-start');
    const port = await freePort();
    // Nothing from this test run's environment: no DATABASE_URL, REDIS_URL or JWT key.
    const env = { PATH: process.env['PATH'], HOME: process.env['HOME'], PORT: String(port), DATA_DIR: dataDir };
    const child = spawn('npm', ['start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    try {
      const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('npm start did not log that it listens')), 60_000);
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (!line.includes('"relay listening"')) return;
          clearTimeout(timer);
          resolve(JSON.parse(line) as Record<string, unknown>);
        });
        child.once('exit', (code) => reject(new Error(`npm start exited with ${code}`)));
      });
      expect(listening).toMatchObject({ port, database: 'pglite', url: `ws://${String(listening['host'])}:${port}/ws` });
      expect(String(listening['where'])).toContain(dataDir);
      expect(await (await fetch(`http://127.0.0.1:${port}/readyz`)).text()).toBe('ready');

      const token = spawnSync('npm', ['run', '--silent', 'token', '--', '--user', 'alice', '--device', 'a1'], { cwd: root, env, encoding: 'utf8' }).stdout.trim();
      const alice = await TestClient.connect(`ws://127.0.0.1:${port}/ws`, 'alice', 'a1', { token });
      await alice.close();
    } finally {
      // npm runs the relay as a child of its own: stop the whole group.
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    }
  }, 90_000);
});
