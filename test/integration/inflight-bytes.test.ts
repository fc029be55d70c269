import { describe, expect, it } from 'vitest';
import { uid, useRelay } from '../helpers/relay-fixture.ts';

/**
 * A device that reads but never acks holds frames in flight. The window is
 * bounded in bytes as well as in frames: with MAX_INFLIGHT_BYTES of 64 KiB
 * and 20 KiB frames, delivery pauses after the frame that crosses 64 KiB,
 * though the frame count (INFLIGHT_MAX 1000) is far from full, and resumes,
 * losing nothing, once acks free half the bytes.
 */
describe('the in-flight window in bytes', () => {
  const fx = useRelay('pglite', { MAX_INFLIGHT_BYTES: String(64 * 1024) });

  it('pauses delivery to a reader that does not ack once 64 KiB are in flight, and resumes on its acks', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const a = await fx.accounts.online(alice, 'a1');
    const b = await fx.accounts.online(bob, 'b1');
    const body = Buffer.alloc(15 * 1024, 1).toString('base64'); // 20 KiB of base64 in each frame
    const ids = Array.from({ length: 10 }, (_, i) => `m${i}`);
    for (const id of ids) a.send({ type: 'send', id, payload: { to: bob, messages: [{ device_id: 'b1', ciphertext: body }] } });
    await a.seen((f) => f.type === 'sent_ack' && f.message_id === 'm9');
    await new Promise((r) => setTimeout(r, 500));
    // Three frames are 60 KiB; the fourth crosses 64 KiB and fills the window.
    expect(b.all('deliver').map((f) => f.message_id)).toEqual(ids.slice(0, 4));
    b.send({ type: 'delivery_ack', payload: { message_ids: ids.slice(0, 4) } });
    const got: string[] = [];
    while (got.length < 6) {
      const f = await b.next((x) => x.type === 'deliver' && !ids.slice(0, 4).includes(x.message_id!));
      got.push(f.message_id!);
      b.send({ type: 'delivery_ack', payload: { message_ids: [f.message_id!] } });
    }
    expect(got).toEqual(ids.slice(4));
    await Promise.all([a.close(), b.close()]);
  });
});
