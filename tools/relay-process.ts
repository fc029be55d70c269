import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

const root = path.resolve(import.meta.dirname, '..');

export interface ScriptProcess {
  child: ChildProcess;
  /** Every line the process printed so far, stdout and stderr. */
  logs: string[];
  /** The JSON line that said it was ready, parsed. */
  ready: Record<string, unknown>;
  /** Sends a signal and waits for the process to exit; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * Starts `node --import tsx SCRIPT` in the repository with only `env` (plus
 * PATH and HOME), and resolves once it prints a JSON line whose `msg` is
 * `readyMsg`. Rejects, with everything it printed, if it exits first or
 * takes longer than `timeoutMs`.
 */
export async function startScript(script: string, readyMsg: string, env: Record<string, string | undefined>, timeoutMs = 45_000): Promise<ScriptProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const marker = `"msg":${JSON.stringify(readyMsg)}`;
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start in ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
    // RELAY_TEST_LOG_DIR keeps every process's log in a file, for investigating a failed run.
    const logDir = process.env['RELAY_TEST_LOG_DIR'];
    const onLine = (line: string) => {
      logs.push(line);
      if (logDir) appendFileSync(path.join(logDir, `${path.basename(script, '.ts')}-${child.pid}.log`), `${line}\n`);
      if (line.includes(marker)) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready:\n${logs.join('\n')}`));
    });
  });
  return {
    child,
    logs,
    ready,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

export interface RelayProcess extends ScriptProcess {
  port: number;
  /** Where the relay serves GET /metrics. */
  metricsPort: number;
  /** Where the relay serves the admin API (null when it is off). */
  adminPort: number | null;
  url: string;
}

/** Starts a relay process, by default on PORT=0, and resolves once it logs where it listens. */
export async function startRelay(env: Record<string, string | undefined>, timeoutMs = 45_000): Promise<RelayProcess> {
  const p = await startScript(
    'src/main.ts',
    'relay listening',
    {
      PORT: '0',
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      ADMIN_PORT: '0',
      // Tests stop relays with SIGTERM: at once, unless a test asks for a staged drain.
      DRAIN_READY_SECONDS: '0',
      DRAIN_SECONDS: '0',
      LOG_LEVEL: process.env['RELAY_TEST_LOG_LEVEL'] ?? 'info',
      // Every local client (tests, the demo's browsers) connects from 127.0.0.1: per-address limits would throttle them.
      RATE_CONNECTS_PER_IP_BURST: '100000',
      RATE_CONNECTS_PER_IP_PER_SECOND: '100000',
      MAX_CONNECTIONS_PER_IP: '100000',
      ...env,
    },
    timeoutMs,
  );
  const port = p.ready['port'] as number;
  return { ...p, port, metricsPort: p.ready['metrics_port'] as number, adminPort: p.ready['admin_port'] as number | null, url: `ws://127.0.0.1:${port}/ws` };
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
