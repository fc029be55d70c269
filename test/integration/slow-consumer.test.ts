import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { rssOf } from '../../tools/process-memory.ts';
import { backends } from '../helpers/databases.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import { TestClient } from '../helpers/ws-client.ts';

/**
 * A reader stops reading (its TCP window closes) while a sender floods it.
 * The relay must not buffer the flood for it: the socket is closed at the
 * backpressure limit, the messages wait in the queue, server memory stays
 * bounded, and everything arrives, in order, on a new connection.
 */
describe.each(backends.includes('postgres') ? (['postgres'] as const) : (['pglite'] as const))('a stalled reader on %s', (kind) => {
  const fx = useRelay(kind, {
    MAX_BACKPRESSURE_BYTES: String(512 * 1024),
    INFLIGHT_MAX: '100',
    // The in-flight window in bytes (4 MiB by default) would pause delivery before the socket backs up, since the
    // kernel's buffers take a few MiB from a paused reader; this test is about the socket backing up.
    MAX_INFLIGHT_BYTES: String(64 * 1024 * 1024),
    SLOW_CONSUMER_SECONDS: '1',
    // The proof of boundedness: a relay that kept the flood for the stalled reader would run out of this heap.
    NODE_OPTIONS: '--max-old-space-size=96',
    RATE_MESSAGES_BURST: '100000',
    RATE_MESSAGES_PER_SECOND: '100000',
    RATE_BYTES_BURST: String(1024 * 1024 * 1024),
    RATE_BYTES_PER_SECOND: String(1024 * 1024 * 1024),
    RATE_FRAMES_BURST: '100000',
    RATE_FRAMES_PER_SECOND: '100000',
  });

  it('is dropped when it stays backed up, memory stays bounded (heap cap below the flood), and it gets everything on reconnect', async () => {
    const [alice, bob, carol] = [uid('alice'), uid('bob'), uid('carol')];
    const a = await fx.accounts.online(alice, 'a1');
    const healthy = await fx.accounts.online(carol, 'c1');
    const stalled = await fx.accounts.online(bob, 'b1');
    const count = 1400;
    const body = Buffer.alloc(45 * 1024, 7).toString('base64'); // 60 KiB of ciphertext text
    const pid = fx.relay.child.pid!;

    /** Sends `count` messages to `to` in windows of 50 (each window acked by the relay) and returns the relay's peak RSS. */
    const flood = async (to: string, device: string, prefix: string): Promise<number> => {
      let peak = rssOf(pid);
      const sample = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
      try {
        for (let i = 0; i < count; i++) {
          a.send({ type: 'send', id: `${prefix}${i}`, payload: { to, messages: [{ device_id: device, ciphertext: body }] } });
          if (i % 50 === 49) await a.next((f) => f.type === 'sent_ack' && f.message_id === `${prefix}${i}`, 30_000);
        }
      } finally {
        clearInterval(sample);
      }
      return peak;
    };

    // Baseline in the same run: the same flood to a reader that keeps up and acks.
    const reading = (async () => {
      for (let n = 0; n < count; n++) {
        const f = await healthy.next('deliver', 30_000);
        healthy.send({ type: 'delivery_ack', payload: { message_ids: [f.message_id!] } });
      }
    })();
    const before = rssOf(pid);
    const healthyPeak = await flood(carol, 'c1', 'h');
    await reading;

    (stalled.ws as unknown as { _socket: net.Socket })._socket.pause();
    const stalledPeak = await flood(bob, 'b1', 'f');
    const sentBytes = count * body.length;
    const mib = (n: number) => (n / 2 ** 20).toFixed(0);
    console.log(`flood of ${mib(sentBytes)} MiB: relay RSS ${mib(before)} MiB, peak ${mib(healthyPeak)} with a healthy reader, ${mib(stalledPeak)} with a stalled one`);
    // The flood is larger than the relay's whole heap cap: it cannot have kept it.
    expect(sentBytes).toBeGreaterThan(96 * 2 ** 20 * 0.7);
    expect(fx.relay.child.exitCode).toBeNull();

    // The relay gave up on the stalled socket (1013, after SLOW_CONSUMER_SECONDS); it sees that once it reads again.
    (stalled.ws as unknown as { _socket: net.Socket })._socket.resume();
    expect(await stalled.closed).toBe(1013);

    // A new connection gets every message, in order, acking as it goes.
    const again = await TestClient.connect(fx.relay.url, bob, 'b1');
    const seen: string[] = [];
    while (seen.length < count) {
      const f = await again.next('deliver', 30_000);
      seen.push(f.message_id!);
      again.send({ type: 'delivery_ack', payload: { message_ids: [f.message_id!] } });
    }
    expect(seen).toEqual(Array.from({ length: count }, (_, i) => `f${i}`));
    await Promise.all([a.close(), healthy.close(), again.close()]);
  }, 180_000);
});
