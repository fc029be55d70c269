import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const root = path.resolve(import.meta.dirname, '../..');
const hasTaskset = spawnSync('taskset', ['--version']).status === 0;

/**
 * Whether processes here may move to SCHED_FIFO (`chrt`): root, or
 * CAP_SYS_NICE. The latency probe does (bench/load/start-gate.ts); without it the probe
 * runs at the generators' priority and the report says so.
 */
export const hasRealtime = spawnSync('chrt', ['-f', '1', 'true']).status === 0;

/**
 * The node flags of package.json's `start` script (`node FLAGS dist/main.js`),
 * so that the bench starts the relay's bundle exactly as `npm start` does.
 */
export function npmStartFlags(): string[] {
  const start = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.trim().split(/\s+/);
  const script = start.indexOf('dist/main.js');
  if (start[0] !== 'node' || script === -1) throw new Error(`package.json's start script is not "node [flags] dist/main.js": ${start.join(' ')}`);
  return start.slice(1, script);
}

/**
 * Starts the load of several processes at one moment. Each prints
 * `{"phase":"ready"}` once its connections are up and then waits for a line
 * on its standard input (waitForGate); the gate writes it to all of them
 * when the last is ready. Without it, a process that connected sooner would
 * measure while the others were still connecting, under less load. If one
 * of them exits first, the others' input is closed and they exit too.
 */
export class StartGate {
  private readonly ready: ChildProcess[] = [];
  private readonly all: ChildProcess[] = [];

  constructor(private readonly count: number) {}

  join(child: ChildProcess): void {
    this.all.push(child);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line !== '{"phase":"ready"}') return;
      this.ready.push(child);
      if (this.ready.length === this.count) for (const c of this.ready) c.stdin!.write('go\n');
    });
    child.once('exit', () => {
      if (this.ready.length < this.count) for (const c of this.all) c.stdin?.end();
    });
  }
}

export interface LoadOptions {
  /** Start together with the other processes of this gate. */
  gate?: StartGate;
}

/**
 * Runs `script` with node pinned to `cpu` when taskset is there (server on one core, load on the other):
 * a TypeScript file through tsx, a built bundle (the relay's dist/main.js) as `npm start` runs it.
 */
export function nodeOn(cpu: number, script: string, args: string[], env: Record<string, string>, opts: LoadOptions = {}): ChildProcess {
  // BENCH_CPU_PROF=dir profiles the servers under test (CPU 0) into dir; summarise with bench/profile-summary.ts.
  // BENCH_LOAD_PROF=dir does the same for the load generators (CPU 1).
  const profDir = cpu === 0 ? process.env['BENCH_CPU_PROF'] : process.env['BENCH_LOAD_PROF'];
  const prof = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  // Servers (CPU 0) collect their garbage on SIGUSR2, for memory readings (gc-on-signal.mjs). They
  // collect it on their main thread: V8 sizes its helper threads by the machine's cores, not by the
  // affinity mask, and on one pinned core those helpers preempt the thread that serves the sockets.
  const gc = cpu === 0 ? ['--single-threaded-gc', '--expose-gc', '--import', path.join(root, 'bench/lib/gc-on-signal.mjs')] : [];
  // BENCH_SERVER_FLAGS adds node flags to the servers under test (say --trace-gc, or a heap size to compare).
  const extra = cpu === 0 ? (process.env['BENCH_SERVER_FLAGS'] ?? '').split(' ').filter(Boolean) : [];
  // A bundle runs with the flags `npm start` gives it and without tsx, whose loader thread would sit in the
  // process measured; TypeScript (the baselines, the load generators) goes through tsx.
  const own = script.endsWith('.js') ? npmStartFlags() : ['--import', 'tsx'];
  const node = [process.execPath, ...prof, ...extra, ...own, ...gc, script, ...args];
  const [cmd, ...rest] = hasTaskset ? ['taskset', '-c', String(cpu), ...node] : node;
  return spawn(cmd!, rest, { cwd: root, env: { ...process.env, ...env }, stdio: [opts.gate ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
}

/** Moves this process (the bench runner) to the generators' core, so that the servers' core runs only the server under test. */
export function pinRunner(): void {
  if (hasTaskset) spawnSync('taskset', ['-a', '-cp', '1', String(process.pid)]);
}

/** Starts a server process and resolves with its port once it logs `relay listening`. */
export function startServer(cpu: number, script: string, env: Record<string, string>): Promise<{ port: number; child: ChildProcess; stop(): Promise<void> }> {
  const child = nodeOn(cpu, script, [], { PORT: '0', METRICS_PORT: '0', ADMIN_PORT: '0', DRAIN_READY_SECONDS: '0', DRAIN_SECONDS: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env });
  // BENCH_SERVER_LOG=dir keeps each server's output (its log, --trace-gc lines) in dir/<pid>.log.
  const logDir = process.env['BENCH_SERVER_LOG'];
  if (logDir) {
    const out = createWriteStream(path.join(logDir, `${child.pid}.log`));
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.includes('"relay listening"')) return;
      clearTimeout(timer);
      const port = (JSON.parse(line) as { port: number }).port;
      resolve({
        port,
        child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            // A CPU profile is written only on a normal exit.
            child.kill(process.env['BENCH_CPU_PROF'] ? 'SIGINT' : 'SIGKILL');
          }),
      });
    });
    let err = '';
    child.stderr!.on('data', (d) => (err = (err + String(d)).slice(-2000)));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${err}`)));
  });
}

/** Runs a load process to completion and parses the JSON line it prints. */
export function runLoad<T>(cpu: number, script: string, args: string[], onLine?: (line: string) => void, opts: LoadOptions = {}): Promise<T> {
  const child = nodeOn(cpu, script, args, {}, opts);
  opts.gate?.join(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  if (onLine) createInterface({ input: child.stdout! }).on('line', onLine);
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1);
      if (code !== 0 || !line) return reject(new Error(`${script} failed (${code}): ${err.slice(0, 500)}`));
      resolve(JSON.parse(line) as T);
    });
  });
}

/**
 * Starts a load process that prints one JSON line and then keeps running
 * (holding its connections); resolves with the line and a way to kill it.
 */
export function holdLoad<T>(cpu: number, script: string, args: string[]): Promise<{ result: T; kill(): Promise<void> }> {
  const child = nodeOn(cpu, script, args, {});
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + String(d)).slice(-2000)));
  const kill = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGKILL');
    });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ result: JSON.parse(line) as T, kill }));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${err}`)));
  });
}

/** Clock ticks per second in /proc's CPU times (USER_HZ): 100, fixed by the kernel's ABI whatever its CONFIG_HZ. */
const userHz = 100;

/** CPU time (user + system) a process has used so far, in seconds (Linux /proc). */
export function cpuSecondsOf(pid: number): number {
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / userHz;
}

/** Asks a server under test to run a full garbage collection (see gc-on-signal.mjs). */
export function collectGarbage(pid: number): void {
  process.kill(pid, 'SIGUSR2');
}
