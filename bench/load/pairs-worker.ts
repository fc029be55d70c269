/**
 * Load generator process for the 1:1 pairs scenario. Each pair is a sender
 * and a receiver; the sender keeps `window` sends outstanding (released by
 * sent_ack), the receiver acks every delivery. Counts deliveries during the
 * measured interval and reports them, with this process's CPU time, on
 * stdout as one JSON line.
 *
 * argv: target ('relay' | 'bare'), port, first pair index, pair count,
 *       warmup ms, measure ms, window, JWT secret.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { LeanWs } from './lean-ws.ts';

const [target, portArg, firstArg, countArg, warmupArg, measureArg, windowArg, secret] = process.argv.slice(2);
const port = Number(portArg);
const [first, count, warmupMs, measureMs, window] = [firstArg, countArg, warmupArg, measureArg, windowArg].map(Number) as [number, number, number, number, number];
const key = new TextEncoder().encode(secret ?? '');
const ciphertext = randomBytes(96).toString('base64');

async function open(user: string): Promise<LeanWs> {
  if (target === 'bare') return LeanWs.connect(port, `/ws?id=${user}`, {});
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({ did: 'd1' }).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setIssuedAt(now).setExpirationTime(now + 3600).sign(key);
  const ws = await LeanWs.connect(port, '/ws', { authorization: `Bearer ${jwt}` });
  // Each user's only device registers as its primary; it is then approved and gets its (empty) backlog.
  await new Promise<void>((resolve) => {
    ws.onMessage = (t) => {
      if (t.includes('"queue_empty"')) resolve();
    };
    ws.send(JSON.stringify({ type: 'device_register', payload: { identity_key: randomBytes(32).toString('base64'), device_name: 'bench', device_type: 'bench' } }));
  });
  return ws;
}

let delivered = 0;
let measuring = false;
const run = Date.now().toString(36);
const pairs = await Promise.all(
  Array.from({ length: count }, async (_, i) => {
    const n = first + i;
    const [s, r] = [`b${run}p${n}s`, `b${run}p${n}r`];
    return { sender: await open(s), receiver: await open(r), to: r };
  }),
);

for (const { sender, receiver, to } of pairs) {
  let seq = 0;
  const sendOne = () => sender.send(JSON.stringify({ type: 'send', id: `m${seq++}`, payload: { to, messages: [{ device_id: 'd1', ciphertext }] } }));
  sender.onMessage = (t) => {
    if (t.startsWith('{"type":"sent_ack"')) sendOne();
    else if (t.startsWith('{"type":"status_update"')) {
      const id = /"message_id":"([^"]+)"/.exec(t)?.[1];
      if (id) sender.send(`{"type":"delivery_ack","payload":{"message_ids":["${id}"]}}`);
    } else if (t.startsWith('{"type":"error"')) process.stderr.write(`${t}\n`);
  };
  receiver.onMessage = (t) => {
    if (!t.startsWith('{"type":"deliver"')) return;
    if (measuring) delivered++;
    const id = /"message_id":"([^"]+)"/.exec(t)?.[1];
    if (id) receiver.send(`{"type":"delivery_ack","payload":{"message_ids":["${id}"]}}`);
  };
  for (let i = 0; i < window; i++) sendOne();
}

await new Promise((r) => setTimeout(r, warmupMs));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
measuring = true;
await new Promise((r) => setTimeout(r, measureMs));
measuring = false;
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ delivered, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
for (const p of pairs) {
  p.sender.close();
  p.receiver.close();
}
process.exit(0);
