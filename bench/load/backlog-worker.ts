/**
 * Load generator for the offline backlog: each receiver registers and
 * disconnects; its sender then stores `perPair` messages for it (a window
 * of sends outstanding, released by sent_ack, which the relay gives once a
 * message is durable); then every receiver reconnects at once and reads
 * its backlog, acking each message, until `queue_empty`. Prints one JSON
 * line with both phases' counts and times, and this process's CPU time
 * during the drain.
 *
 * argv[2]: JSON { port, first, count, perPair, window, secret }
 */
import { randomBytes } from 'node:crypto';
import { connectDevice, dialects, idOf, mintToken, type Conn } from './dialects.ts';

const a = JSON.parse(process.argv[2]!) as { port: number; first: number; count: number; perPair: number; window: number; secret: string };
const d = dialects.relay;
const ciphertext = randomBytes(96).toString('base64');
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const users = Array.from({ length: a.count }, (_, i) => ({ sender: `q${run}p${a.first + i}s`, receiver: `q${run}p${a.first + i}r` }));
const token = (user: string) => mintToken(a.secret, user);

// Receivers exist (registered, approved) and are offline.
for (const u of users) (await connectDevice(d, a.port, u.receiver, token(u.receiver))).close();
await new Promise((r) => setTimeout(r, 500));

// Store phase.
const senders: Conn[] = [];
const s0 = performance.now();
await Promise.all(
  users.map(async (u) => {
    const s = await connectDevice(d, a.port, u.sender, token(u.sender));
    senders.push(s);
    let sent = 0;
    let acked = 0;
    await new Promise<void>((done) => {
      s.onMessage = (t) => {
        if (d.isStatus(t)) {
          const id = idOf(t);
          if (id) s.send(d.ack(id));
        } else if (d.isSentAck(t)) {
          if (++acked === a.perPair) done();
          else if (sent < a.perPair) s.send(d.send(`m${sent++}`, u.receiver, ciphertext));
        } else if (t.includes('error')) process.stderr.write(`${t.slice(0, 300)}\n`);
      };
      for (; sent < Math.min(a.window, a.perPair); sent++) s.send(d.send(`m${sent}`, u.receiver, ciphertext));
    });
  }),
);
const storeSeconds = (performance.now() - s0) / 1000;

// Drain phase: every receiver reconnects at once.
const cpu0 = process.cpuUsage();
const d0 = performance.now();
let drained = 0;
await Promise.all(
  users.map(async (u) => {
    const conn = await d.upgrade(a.port, u.receiver, token(u.receiver));
    await new Promise<void>((done) => {
      conn.onMessage = (t) => {
        if (d.isDeliver(t)) {
          drained++;
          const id = idOf(t);
          if (id) conn.send(d.ack(id));
        } else if (t.includes('"queue_empty"')) done();
      };
    });
    conn.close();
  }),
);
const drainSeconds = (performance.now() - d0) / 1000;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ stored: a.count * a.perPair, storeSeconds, drained, drainSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
for (const s of senders) s.close();
process.exit(0);
