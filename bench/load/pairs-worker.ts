/**
 * Load generator process for 1:1 pairs. Each pair is a sender and a
 * receiver; the receiver acks every delivery. Two modes:
 * - saturation: each sender keeps `window` sends outstanding, released by
 *   sent_ack; reports deliveries per second.
 * - rate: senders together offer `rate` msg/s on a fixed schedule, whatever
 *   the answers (open loop); each message id carries its send time, and the
 *   receiver records send-to-deliver latency.
 * A send the target refuses as overloaded counts as refused; in
 * saturation mode its window slot takes a new send after the
 * `retry_after` the answer gives, as a client would wait. Prints one JSON
 * line with the counts, latency percentiles and this process's CPU time.
 * Once connected it waits for a line on its standard input before it
 * sends anything (start-gate.ts), so that all the processes of one
 * measurement start together.
 *
 * argv[2]: JSON { target, port, recvPort?, devices?, seeded?, first, count, warmupMs, measureMs, window, rate, secret, realtime? }
 * Receivers connect to recvPort when given (another node of a cluster).
 * With `devices` > 1 each receiver user has that many devices, every send
 * addresses all of them, and every device's delivery counts; `seeded`
 * says the parent created the receiver users' devices beforehand.
 * With `group` (the relay only, seeded), each sender writes to `size`
 * users: one group send to all of them per message (`group`), or one
 * single send to each in turn (`singles`). Both keep about the same
 * number of deliveries in flight: a group sender's window is the window
 * divided by the group's size.
 */
import { randomBytes } from 'node:crypto';
import { connectDevice, dialects, idOf, mintToken, type Target } from './dialects.ts';
import { waitForGate } from './start-gate.ts';

interface Args {
  target: Target;
  port: number;
  /** Where receivers connect; defaults to port. */
  recvPort?: number;
  /** Devices per receiver user (fan-out); 1 by default. */
  devices?: number;
  /** The receivers' devices exist and are approved already (the relay: seeded by the parent). */
  seeded?: boolean;
  first: number;
  count: number;
  warmupMs: number;
  measureMs: number;
  window: number;
  /** msg/s offered by this process in rate mode; 0 for saturation. */
  rate: number;
  secret: string;
  /** The latency probe: its main thread moves to SCHED_FIFO once connected (start-gate.ts). */
  realtime?: boolean;
  group?: { size: number; mode: 'group' | 'singles' };
}
const a = JSON.parse(process.argv[2]!) as Args;
const d = dialects[a.target];
const ciphertext = randomBytes(96).toString('base64');
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

const deviceIds = Array.from({ length: a.devices ?? 1 }, (_, i) => `d${i + 1}`);
const open = (user: string, port = a.port, device = 'd1', known = false) => connectDevice(d, port, user, mintToken(a.secret, user, device), device, known);
// Seeded receiver users are named by the parent; others get a name unique to this run.
const receiverName = (i: number) => (a.seeded ? `fan${a.first + i}` : `b${run}p${a.first + i}r`);
const groupSize = a.group?.size ?? 0;
const pairs = await Promise.all(
  Array.from({ length: a.count }, async (_, i) => {
    // A group sender's members are seeded users of its own: fan<(first + i) * size + j>.
    const members = Array.from({ length: groupSize }, (_, j) => `fan${(a.first + i) * groupSize + j}`);
    const r = receiverName(i);
    // The receivers first, so that a cluster knows where they are before anything is sent to them.
    const receivers = [];
    if (a.group) for (const m of members) receivers.push(await open(m, a.recvPort, 'd1', true));
    else for (const dev of deviceIds) receivers.push(await open(r, a.recvPort, dev, a.seeded));
    const groupFrame = (id: string) =>
      `{"type":"send","id":"${id}","payload":{"group_id":"g${a.first + i}","recipients":[${members.map((m) => `{"to":"${m}","messages":[{"device_id":"d1","ciphertext":"${ciphertext}"}]}`).join(',')}]}}`;
    return { sender: await open(`b${run}p${a.first + i}s`), receivers, to: r, members, groupFrame, seq: 0 };
  }),
);
const window = a.group?.mode === 'group' ? Math.max(1, Math.round(a.window / groupSize)) : a.window;

await waitForGate(a.realtime);

let delivered = 0;
/** Sends refused as overloaded while measuring. */
let refused = 0;
/** Deliveries since the first send, warm-up included (the relay's write counters cover the same span). */
let deliveredAll = 0;
let measuring = false;
const latencies: number[] = [];
const t0 = performance.now();

const retryAfter = /"retry_after":(\d+)/;
const send = (p: (typeof pairs)[number], id: string) => {
  if (!a.group) p.sender.send(d.send(id, p.to, ciphertext, deviceIds));
  else if (a.group.mode === 'group') p.sender.send(p.groupFrame(id));
  else p.sender.send(d.send(id, p.members[p.seq % groupSize]!, ciphertext, ['d1']));
};
for (const p of pairs) {
  const { sender, receivers } = p;
  sender.onMessage = (t) => {
    if (d.isSentAck(t)) {
      if (a.rate === 0) send(p, `m${p.seq++}`);
    } else if (d.isStatus(t)) {
      const id = idOf(t);
      if (id) sender.send(d.ack(id));
    } else if (d.isOverloaded(t)) {
      if (measuring) refused++;
      if (a.rate === 0) setTimeout(() => send(p, `m${p.seq++}`), 1000 * Number(retryAfter.exec(t)?.[1] ?? 1));
    } else if (t.includes('error')) process.stderr.write(`${t.slice(0, 300)}\n`);
  };
  for (const receiver of receivers) {
    receiver.onMessage = (t) => {
      if (!d.isDeliver(t)) return;
      const id = idOf(t);
      deliveredAll++;
      if (measuring) {
        delivered++;
        // Ids in rate mode are `m<seq>_<send time in µs since start>`.
        if (a.rate > 0 && id) latencies.push((performance.now() - t0) * 1000 - Number(id.slice(id.indexOf('_') + 1)));
      }
      if (id) receiver.send(d.ack(id));
    };
  }
}

let ticker: ReturnType<typeof setInterval> | undefined;
if (a.rate === 0) {
  for (const p of pairs) for (let i = 0; i < window; i++) send(p, `m${p.seq++}`);
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
      send(p, `m${p.seq++}_${us}`);
    }
  }, 2);
}

await new Promise((r) => setTimeout(r, a.warmupMs));
// The parent reads the server's CPU time at these marks (one line each, before the result line).
console.log('{"phase":"measuring"}');
const cpu0 = process.cpuUsage();
const m0 = performance.now();
measuring = true;
await new Promise((r) => setTimeout(r, a.measureMs));
console.log('{"phase":"measured"}');
measuring = false;
clearInterval(ticker);
const seconds = (performance.now() - m0) / 1000;
const cpu = process.cpuUsage(cpu0);
latencies.sort((x, y) => x - y);
const pct = (q: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! / 1000 : null);
console.log(JSON.stringify({ delivered, refused, deliveredAll, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, p50: pct(0.5), p99: pct(0.99), p999: pct(0.999), samples: latencies.length }));
for (const p of pairs) {
  p.sender.close();
  for (const r of p.receivers) r.close();
}
process.exit(0);
