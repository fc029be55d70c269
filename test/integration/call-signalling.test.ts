import { describe, expect, it } from 'vitest';
import { backends } from '../helpers/databases.ts';
import { uid, useRelay } from '../helpers/relay-fixture.ts';
import type { Frame, TestClient } from '../helpers/ws-client.ts';

/**
 * Call signalling on one node. Only a party to a ringing or live call may
 * signal it, and whether a user is online or in a call is told to their
 * mutual contacts only: to anyone else an offline callee and one who lets
 * it ring look the same.
 */
describe.each(backends)('call signalling on %s', (kind) => {
  const fx = useRelay(kind, { PRESENCE_GRACE_SECONDS: '1', PRESENCE_REAP_MS: '200' });
  const online = (user: string, device: string) => fx.accounts.online(user, device);
  const isCall = (f: Frame) => f.type.startsWith('call_') || f.type === 'ice_candidate';
  /** Makes two users mutual contacts (each adds the other); a heartbeat marks each add as handled. */
  const befriend = async (x: TestClient, y: TestClient) => {
    for (const [c, other] of [
      [x, y.user],
      [y, x.user],
    ] as const) {
      c.send({ type: 'contact_add', payload: { user_id: other } });
      await settled(c);
    }
  };
  /** Waits until the relay has handled everything the client sent so far; returns the call frames and errors that came back meanwhile. */
  const settled = async (c: TestClient): Promise<Frame[]> => {
    const from = c.frames.length;
    c.send({ type: 'heartbeat', payload: {} });
    await c.next('heartbeat_ack');
    return c.frames.slice(from).filter((f) => f.type === 'error' || isCall(f));
  };
  const gone = async (c: TestClient) => {
    await c.close();
    await new Promise((r) => setTimeout(r, 1500)); // past the presence grace
  };

  it('between contacts: target_offline, ringing on every device, answer stops the others, call_busy', async () => {
    const [alice, bob, carol] = [uid('alice'), uid('bob'), uid('carol')];
    const a = await online(alice, 'a1');
    const b0 = await online(bob, 'b0');
    await befriend(a, b0);
    await gone(b0);
    a.send({ type: 'call_offer', id: 'co0', payload: { to: bob, call_id: 'call-0', sdp: 'v=0' } });
    expect(await a.next('error')).toMatchObject({ id: 'co0', payload: { error_code: 'target_offline' } });
    const b1 = await online(bob, 'b1');
    const b2 = await online(bob, 'b2');
    a.send({ type: 'call_offer', payload: { to: bob, call_id: 'call-1', call_type: 'video', sdp: 'v=0 offer' } });
    expect(await b1.next('call_offer')).toMatchObject({ sender_id: alice, payload: { call_id: 'call-1', sdp: 'v=0 offer' } });
    await b2.next('call_offer');
    b1.send({ type: 'call_answer', payload: { to: alice, call_id: 'call-1', sdp: 'v=0 answer' } });
    expect(await a.next('call_answer')).toMatchObject({ sender_device: 'b1', payload: { sdp: 'v=0 answer' } });
    expect(await b2.next('call_end')).toMatchObject({ payload: { call_id: 'call-1', reason: 'answered_elsewhere' } });
    // The device that stopped ringing is no longer a party.
    b2.send({ type: 'call_answer', id: 'late', payload: { to: alice, call_id: 'call-1', sdp: 'late' } });
    expect(await b2.next('error')).toMatchObject({ id: 'late', payload: { error_code: 'unknown_call' } });
    a.send({ type: 'ice_candidate', payload: { to: bob, call_id: 'call-1', candidate: 'candidate:1' } });
    expect(await b1.next('ice_candidate')).toMatchObject({ payload: { candidate: 'candidate:1' } });
    b1.send({ type: 'ice_candidate', payload: { to: alice, call_id: 'call-1', candidate: 'candidate:2' } });
    expect(await a.next('ice_candidate')).toMatchObject({ sender_device: 'b1', payload: { candidate: 'candidate:2' } });
    const c = await online(carol, 'c1');
    await befriend(c, b1);
    c.send({ type: 'call_offer', payload: { to: bob, call_id: 'call-2', sdp: 'v=0' } });
    expect(await c.next('call_busy')).toMatchObject({ payload: { call_id: 'call-2', user_id: bob } });
    a.send({ type: 'call_end', payload: { to: bob, call_id: 'call-1' } });
    expect(await b1.next('call_end')).toMatchObject({ payload: { call_id: 'call-1' } });
    expect(a.all('call_answer')).toHaveLength(1);
    await Promise.all([a, b1, b2, c].map((x) => x.close()));
  });

  /** Alice and Bob, mutual contacts, online; Dave, offline; Mallory, a stranger to all of them, online. */
  const cast = async () => {
    const [alice, bob, mallory, dave] = [uid('alice'), uid('bob'), uid('mallory'), uid('dave')];
    const a = await online(alice, 'a1');
    const b = await online(bob, 'b1');
    await befriend(a, b);
    await gone(await online(dave, 'd1'));
    const m = await online(mallory, 'm1');
    return { alice, bob, mallory, dave, a, b, m };
  };

  it('refuses signals from a device that is not a party, the same way whether the target is online, offline or in a call', async () => {
    const { alice, bob, mallory, dave, a, b, m } = await cast();
    a.send({ type: 'call_offer', payload: { to: bob, call_id: 'live-1', sdp: 'v=0' } });
    await b.next('call_offer');
    b.send({ type: 'call_answer', payload: { to: alice, call_id: 'live-1', sdp: 'v=0' } });
    await a.next('call_answer');
    const probe = async (to: string, callId: string) => {
      const answers = [];
      for (const type of ['call_end', 'ice_candidate', 'call_answer', 'call_reject']) {
        m.send({ type, id: `${type}-${to}`, payload: { to, call_id: callId, candidate: 'x' } });
        answers.push(...(await settled(m)).map((f) => ({ type: f.type, code: f.payload.error_code })));
      }
      return answers;
    };
    const refused = Array(4).fill({ type: 'error', code: 'unknown_call' });
    expect(await probe(bob, 'live-1')).toEqual(refused); // a call under way, naming its id
    expect(await probe(bob, 'random-call')).toEqual(refused); // online
    expect(await probe(dave, 'random-call')).toEqual(refused); // offline
    await settled(b);
    await settled(a);
    expect(b.frames.filter((f) => isCall(f) && f.sender_id === mallory)).toEqual([]);
    expect(a.frames.filter((f) => isCall(f) && f.sender_id === mallory)).toEqual([]);
    await Promise.all([a, b, m].map((x) => x.close()));
  });

  it("answers a stranger's offer to an offline or busy user with nothing, and rings an online one", async () => {
    const { bob, mallory, dave, a, b, m } = await cast();
    // Offline callee: no target_offline, and the caller may end its call like any other.
    m.send({ type: 'call_offer', id: 'o1', payload: { to: dave, call_id: 'spam-1', sdp: 'v=0' } });
    expect(await settled(m)).toEqual([]);
    m.send({ type: 'call_end', id: 'e1', payload: { to: dave, call_id: 'spam-1' } });
    expect(await settled(m)).toEqual([]);
    // Busy callee: no call_busy either, and Bob's call is not disturbed.
    a.send({ type: 'call_offer', payload: { to: bob, call_id: 'busy-1', sdp: 'v=0' } });
    await b.next('call_offer');
    m.send({ type: 'call_offer', id: 'o2', payload: { to: bob, call_id: 'spam-2', sdp: 'v=0' } });
    expect(await settled(m)).toEqual([]);
    m.send({ type: 'ice_candidate', id: 'i2', payload: { to: bob, call_id: 'spam-2', candidate: 'x' } });
    m.send({ type: 'call_end', id: 'e2', payload: { to: bob, call_id: 'spam-2' } });
    expect(await settled(m)).toEqual([]);
    await settled(b);
    expect(b.frames.filter((f) => isCall(f) && f.sender_id === mallory)).toEqual([]);
    // Online and free: it rings, as for anyone.
    a.send({ type: 'call_end', payload: { to: bob, call_id: 'busy-1' } });
    await b.next('call_end');
    m.send({ type: 'call_offer', payload: { to: bob, call_id: 'ring-1', sdp: 'v=0' } });
    expect(await b.next('call_offer')).toMatchObject({ sender_id: mallory, payload: { call_id: 'ring-1' } });
    await Promise.all([a, b, m].map((x) => x.close()));
  });
});
