/**
 * Load generator process for 1:1 pairs. Each pair is a sender and a
 * receiver; the receiver acks every delivery. Two modes:
 * - saturation: each sender keeps `window` sends outstanding, released by
 *   sent_ack; reports deliveries per second.
 * - rate: senders together offer `rate` msg/s on a fixed schedule, whatever
 *   the answers (open loop); each message id carries its send time, and the
 *   receiver records send-to-deliver latency.
 * Prints one JSON line with the counts, latency percentiles and this
 * process's CPU time.
 *
 * argv[2]: JSON { target, port, first, count, warmupMs, measureMs, window, rate, secret }
 */
import { randomBytes } from 'node:crypto';
import { connectDevice, dialects, idOf, mintToken, type Target } from './dialects.ts';

interface Args {
  target: Target;
  port: number;
  first: number;
  count: number;
  warmupMs: number;
  measureMs: number;
  window: number;
  /** msg/s offered by this process in rate mode; 0 for saturation. */
  rate: number;
  secret: string;
}
const a = JSON.parse(process.argv[2]!) as Args;
const d = dialects[a.target];
const ciphertext = randomBytes(96).toString('base64');
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

const open = async (user: string) => connectDevice(d, a.port, user, await mintToken(a.secret, user));
const pairs = await Promise.all(
  Array.from({ length: a.count }, async (_, i) => {
    const [s, r] = [`b${run}p${a.first + i}s`, `b${run}p${a.first + i}r`];
    return { sender: await open(s), receiver: await open(r), to: r, seq: 0 };
  }),
);

let delivered = 0;
let measuring = false;
const latencies: number[] = [];
const t0 = performance.now();

for (const p of pairs) {
  const { sender, receiver } = p;
  sender.onMessage = (t) => {
    if (d.isSentAck(t)) {
      if (a.rate === 0) sender.send(d.send(`m${p.seq++}`, p.to, ciphertext));
    } else if (d.isStatus(t)) {
      const id = idOf(t);
      if (id) sender.send(d.ack(id));
    } else if (t.includes('error')) process.stderr.write(`${t.slice(0, 300)}\n`);
  };
  receiver.onMessage = (t) => {
    if (!d.isDeliver(t)) return;
    const id = idOf(t);
    if (measuring) {
      delivered++;
      // Ids in rate mode are `m<seq>_<send time in µs since start>`.
      if (a.rate > 0 && id) latencies.push((performance.now() - t0) * 1000 - Number(id.slice(id.indexOf('_') + 1)));
    }
    if (id) receiver.send(d.ack(id));
  };
}

let ticker: ReturnType<typeof setInterval> | undefined;
if (a.rate === 0) {
  for (const p of pairs) for (let i = 0; i < a.window; i++) p.sender.send(d.send(`m${p.seq++}`, p.to, ciphertext));
} else {
  // Every 2 ms, send what the schedule owes so far, round-robin over the pairs.
  const start = performance.now();
  let sent = 0;
  let next = 0;
  ticker = setInterval(() => {
    const due = Math.floor(((performance.now() - start) / 1000) * a.rate);
    for (; sent < due; sent++) {
      const p = pairs[next++ % pairs.length]!;
      const us = Math.round((performance.now() - t0) * 1000);
      p.sender.send(d.send(`m${p.seq++}_${us}`, p.to, ciphertext));
    }
  }, 2);
}

await new Promise((r) => setTimeout(r, a.warmupMs));
const cpu0 = process.cpuUsage();
const m0 = performance.now();
measuring = true;
await new Promise((r) => setTimeout(r, a.measureMs));
measuring = false;
clearInterval(ticker);
const seconds = (performance.now() - m0) / 1000;
const cpu = process.cpuUsage(cpu0);
latencies.sort((x, y) => x - y);
const pct = (q: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! / 1000 : null);
console.log(JSON.stringify({ delivered, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, p50: pct(0.5), p99: pct(0.99), p999: pct(0.999), samples: latencies.length }));
for (const p of pairs) {
  p.sender.close();
  p.receiver.close();
}
process.exit(0);
