import { defineConfig } from 'vitest/config';

// Integration tests spawn real relay processes and talk to real Postgres and
// Redis, so each test file runs in its own forked process (the native
// uWebSockets.js addon and PGlite's wasm heap do not belong in shared threads).
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
