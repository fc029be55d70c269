import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

const root = path.resolve(import.meta.dirname, '..');

export interface RelayProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** Every log line the relay printed so far. */
  logs: string[];
  /** Sends a signal and waits for the process to exit; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * Starts a relay process (`node --import tsx src/main.ts`), by default on PORT=0,
 * and resolves once it logs where it listens.
 */
export async function startRelay(env: Record<string, string | undefined>, timeoutMs = 45_000): Promise<RelayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env['RELAY_TEST_LOG_LEVEL'] ?? 'info',
      // Every local client (tests, the demo's browsers) connects from 127.0.0.1: per-address limits would throttle them.
      RATE_CONNECTS_PER_IP_BURST: '100000',
      RATE_CONNECTS_PER_IP_PER_SECOND: '100000',
      MAX_CONNECTIONS_PER_IP: '100000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start in ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
    // RELAY_TEST_LOG_DIR keeps every relay's log in a file, for investigating a failed run.
    const logDir = process.env['RELAY_TEST_LOG_DIR'];
    const onLine = (line: string) => {
      logs.push(line);
      if (logDir) appendFileSync(path.join(logDir, `relay-${child.pid}.log`), `${line}\n`);
      if (line.includes('"relay listening"')) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code} before listening:\n${logs.join('\n')}`));
    });
  });
  return {
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    child,
    logs,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `${prefix}-`));
}

/**
 * A port that was free a moment ago, for a relay that must come back on the
 * same port after a restart. Binding it explicitly matters: on Linux a
 * relay that took an ephemeral port (PORT=0) cannot bind that port again
 * while its old connections sit in TIME_WAIT, whereas an explicitly bound
 * one can.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
