import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RelayClient, type WebSocketConstructor } from '../../sdk/index.ts';
import { startRelay, tempDir, type RelayProcess } from '../../tools/relay-process.ts';
import { Accounts } from '../helpers/accounts.ts';
import { TEST_SECRET, token } from '../helpers/tokens.ts';
import { until } from '../helpers/until.ts';
import { upgradeStatus, type Frame, type TestClient } from '../helpers/ws-client.ts';

/**
 * Admission control against a real relay process whose event loop is made
 * late from outside: SIGSTOP and SIGCONT in turn (stopped 150 ms, running
 * 15 ms) hold every timer of the process late by more than the sampling
 * interval, as a node past its capacity does, while it still reads and
 * answers frames in each running slice. One long SIGSTOP stands for a
 * pause of the whole process, which must shed nothing.
 */
interface Health {
  shedding: number;
  loop_lag_ms: number;
  refused_frames: number;
  refused_upgrades: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('overload: admission control of stored frames', () => {
  let relay: RelayProcess;
  let accounts: Accounts;
  let alice: TestClient;
  let bob: TestClient;
  let cycler: ChildProcess | undefined;
  const health = async () => (await (await fetch(`http://127.0.0.1:${relay.port}/healthz`)).json()) as Health;

  beforeAll(async () => {
    await Accounts.ready();
    relay = await startRelay({ DATA_DIR: tempDir('overload'), JWT_SECRET: TEST_SECRET, OVERLOAD_LAG_MS: '40', OVERLOAD_SUSTAIN_MS: '300' });
    accounts = new Accounts(relay.url);
    alice = await accounts.online('ol-alice', 'a1');
    bob = await accounts.online('ol-bob', 'b1');
    // Bob acks every delivery, as a client does.
    bob.ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as Frame;
      if (f.type === 'deliver') bob.send({ type: 'delivery_ack', payload: { message_ids: [f.message_id] } });
    });
  });
  afterAll(async () => {
    if (relay) await stopLateness();
    await relay?.stop('SIGKILL');
  });

  /** Keeps the relay's loop late until `stopLateness`; a shell loop, so that the rhythm does not depend on this process's event loop. */
  const makeLate = () => {
    cycler = spawn('bash', ['-c', `while :; do kill -STOP ${relay.child.pid}; sleep 0.15; kill -CONT ${relay.child.pid}; sleep 0.015; done`], { stdio: 'ignore' });
  };
  const stopLateness = async () => {
    const c = cycler;
    cycler = undefined;
    if (c && c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
    relay.child.kill('SIGCONT');
  };
  const send = (id: string) => alice.send({ type: 'send', id, payload: { to: 'ol-bob', messages: [{ device_id: 'b1', ciphertext: Buffer.from(id).toString('base64') }] } });
  const answerTo = (id: string) => alice.seen((f) => (f.type === 'sent_ack' && f.message_id === id) || (f.type === 'error' && f.id === id), 20_000);

  it('one long pause of the process refuses nothing', async () => {
    relay.child.kill('SIGSTOP');
    await sleep(1500);
    relay.child.kill('SIGCONT');
    send('pause-1');
    expect((await answerTo('pause-1')).type).toBe('sent_ack');
    await bob.seen((f) => f.type === 'deliver' && f.message_id === 'pause-1');
    const h = await health();
    expect(h).toMatchObject({ shedding: 0, refused_frames: 0, refused_upgrades: 0 });
  });

  it('a loop that stays late refuses a share of sends with overloaded and of upgrades with 503, loses none it acked, and takes both again once on time', async () => {
    makeLate();
    const ids: string[] = [];
    const upgrades: number[] = [];
    let dupRefused = false;
    try {
      await sleep(1500);
      for (let i = 0; i < 20; i++) {
        ids.push(`late-${i}`);
        send(`late-${i}`);
        await sleep(100);
      }
      await Promise.all(ids.map(answerTo));
      // While shedding, a send is taken or refused by its head, before it is parsed. One whose body gives the
      // id again (JSON's last key wins) is refused by its head or, taken, answered as garbage: never stored under either id.
      alice.sendRaw(`{"type":"send","id":"dup-1","payload":{"to":"ol-bob","messages":[{"device_id":"b1","ciphertext":"ZHVw"}]},"id":"dup-2"}`);
      const dup = await answerTo('dup-1');
      expect(dup.type).toBe('error');
      dupRefused = dup.payload.error_code === 'overloaded';
      if (!dupRefused) expect(dup.payload.error_code).toBe('invalid_frame');
      // A retry of a send stored before is answered from the recent sends, never refused.
      send('pause-1');
      await until(() => alice.frames.filter((f) => f.type === 'sent_ack' && f.message_id === 'pause-1').length === 2, 10_000, 'the second sent_ack of pause-1');
      expect(alice.frames.some((f) => f.type === 'error' && f.id === 'pause-1')).toBe(false);
      // New connections meet the same share: a 503 with Retry-After, before any work on the token.
      const headers = { authorization: `Bearer ${await token('ol-dave', 'd1')}` };
      for (let i = 0; i < 10; i++) upgrades.push(await upgradeStatus(relay.url, { headers }));
    } finally {
      await stopLateness();
    }
    expect(upgrades.filter((c) => c === 503).length).toBeGreaterThan(0);
    expect(upgrades.every((c) => c === 503 || c === 101)).toBe(true);
    const answers = ids.map((id) => alice.frames.filter((f) => (f.type === 'sent_ack' && f.message_id === id) || (f.type === 'error' && f.id === id)));
    // Exactly one answer per send: a sent_ack, or an overloaded error that asks for a retry.
    for (const a of answers) expect(a).toHaveLength(1);
    const refused = answers.flat().filter((f) => f.type === 'error');
    for (const f of refused) expect(f.payload).toMatchObject({ error_code: 'overloaded', retry_after: 1 });
    expect(refused.length).toBeGreaterThan(0);
    expect(relay.logs.some((l) => l.includes('overloaded: refusing a share of new stored frames'))).toBe(true);

    // Back on time, the share falls to zero within seconds and sends are taken again.
    const deadline = Date.now() + 15_000;
    let h = await health();
    while (h.shedding > 0 && Date.now() < deadline) {
      await sleep(200);
      h = await health();
    }
    expect(h.shedding).toBe(0);
    expect(h.refused_frames).toBe(refused.length + (dupRefused ? 1 : 0));
    expect(h.refused_upgrades).toBe(upgrades.filter((c) => c === 503).length);
    expect(await upgradeStatus(relay.url, { headers: { authorization: `Bearer ${await token('ol-dave', 'd1')}` } })).toBe(101);
    send('after-1');
    expect((await answerTo('after-1')).type).toBe('sent_ack');

    // Bob got every acked send and none of the refused ones.
    const acked = [...ids.filter((_, i) => answers[i]![0]!.type === 'sent_ack'), 'after-1'];
    await Promise.all(acked.map((id) => bob.seen((f) => f.type === 'deliver' && f.message_id === id, 10_000)));
    const delivered = new Set(bob.all('deliver').map((f) => f.message_id));
    for (const f of refused) expect(delivered.has(f.id)).toBe(false);
    expect([delivered.has('dup-1'), delivered.has('dup-2')]).toEqual([false, false]);
    expect(alice.frames.some((f) => f.type === 'sent_ack' && (f.message_id === 'dup-1' || f.message_id === 'dup-2'))).toBe(false);
  });

  it('an SDK client sends again what the relay refused, and every send arrives once', async () => {
    const carol = await accounts.online('ol-carol', 'c1');
    await carol.close();
    const client = new RelayClient({ url: relay.url, token: () => token('ol-carol', 'c1'), WebSocket: WebSocket as unknown as WebSocketConstructor, backoff: { baseMs: 50, capMs: 2000 } });
    client.connect();
    await client.ready();
    const before = (await health()).refused_frames;
    makeLate();
    const ids = Array.from({ length: 20 }, (_, i) => `sdk-${i}`);
    let acks: Promise<unknown>[] = [];
    try {
      await sleep(1500);
      acks = ids.map((id) => client.send('ol-bob', [{ device_id: 'b1', ciphertext: Buffer.from(id).toString('base64') }], { id }));
      await sleep(2000);
    } finally {
      await stopLateness();
    }
    // Every send resolves with its sent_ack, after as many refusals as it met.
    await Promise.all(acks);
    expect((await health()).refused_frames).toBeGreaterThan(before);
    await Promise.all(ids.map((id) => bob.seen((f) => f.type === 'deliver' && f.message_id === id, 10_000)));
    for (const id of ids) expect(bob.all('deliver').filter((f) => f.message_id === id)).toHaveLength(1);
    client.close();
  }, 60_000);
});
