/**
 * Load generator for the connect storm: opens `count` connections, at most
 * `concurrency` handshakes at a time, each as its own user, and times them
 * (tokens are minted beforehand: signing is the auth service's work,
 * verifying is the server's). Then every device registers where the target
 * needs it, so each connection is a ready device, and the process prints
 * one JSON line and keeps the connections open, idle, until it is killed:
 * the parent reads the server's memory meanwhile.
 *
 * argv[2]: JSON { target, port, first, count, concurrency, secret }
 */
import { dialects, mintToken, type Conn, type Target } from './dialects.ts';

const a = JSON.parse(process.argv[2]!) as { target: Target; port: number; first: number; count: number; concurrency: number; secret: string };
const d = dialects[a.target];
const run = Date.now().toString(36);
const users = Array.from({ length: a.count }, (_, i) => `c${run}u${a.first + i}`);
const tokens = users.map((u) => mintToken(a.secret, u));

/** Runs `fn` over 0..count-1 with at most `concurrency` at a time. */
async function pool(fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: a.concurrency }, async () => {
      while (next < a.count) await fn(next++);
    }),
  );
}

const conns: (Conn | undefined)[] = new Array(a.count);
let failed = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await pool(async (i) => {
  conns[i] = await d.upgrade(a.port, users[i]!, tokens[i]!).catch(() => void failed++);
});
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const t1 = performance.now();
await pool(async (i) => {
  if (conns[i]) await d.register(conns[i]);
});
const readySeconds = (performance.now() - t1) / 1000;
console.log(JSON.stringify({ connected: a.count - failed, failed, seconds, readySeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
// Hold every connection, idle, until the parent has measured and kills us.
setInterval(() => {}, 60_000);
