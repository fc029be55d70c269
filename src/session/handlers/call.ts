import type { CallSignal } from '../../calls/call-registry.ts';
import type { CallFrameType, FrameOf } from '../../protocol/client-frames.ts';
import { encodeError, encodeFrame } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';

type CallFrame = FrameOf<CallFrameType>;

/**
 * Call signalling: ephemeral, forwarded only to connected devices, on this
 * node or (through the bus) any other. Only a party may signal a call: the
 * device that offered it, or a callee device it rang (call-registry.ts).
 * - offer: every callee device rings (or the one named). `target_offline`
 *   when the callee has no device online, `call_busy` when it is in another
 *   call this node knows of, but only between mutual contacts: anyone else
 *   hears nothing in either case, exactly as from a callee who lets it
 *   ring, so an offer cannot tell a stranger whether someone is online.
 * - answer / reject: from a ringing callee device, to the caller's device;
 *   the callee's other devices get `call_end` (`answered_elsewhere` /
 *   `rejected_elsewhere`) wherever they are connected, and stop ringing.
 * - end: to the other party; the call is over for both.
 * - ice_candidate: to the other party's device (before an answer, to every
 *   callee device).
 * Any other frame is refused with `unknown_call`, which depends only on
 * the sender's own calls.
 */
export async function handleCall(s: Session, frame: CallFrame, svc: Services): Promise<void> {
  const p = frame.payload;
  const ts = isoNow(svc);
  if (p.to === s.userId) return s.reply(encodeError('forbidden', { id: frame.id, message: 'a device cannot call its own user', timestamp: ts }));
  if (frame.type === 'call_offer') return offer(s, frame, svc, ts);

  const leg = svc.calls.legOf(p.call_id, s.userId, s.deviceId);
  if (!leg || leg.peerUser !== p.to) return s.reply(encodeError('unknown_call', { id: frame.id, timestamp: ts, extra: { call_id: p.call_id } }));
  const signal = (kind: CallSignal['kind']): CallSignal => ({ callId: leg.callId, kind, fromUser: s.userId, fromDevice: s.deviceId });
  const toPeer = (payload: Omit<CallFrame['payload'], 'to' | 'device_id'>, kind?: CallSignal['kind']): number =>
    svc.router.push(leg.peerUser, encodeFrame(frame.type, ts, payload, { sender_id: s.userId, sender_device: s.deviceId }), {
      device: leg.peerDevice,
      call: kind ? signal(kind) : undefined,
    });
  const payload = forwarded(p);
  if (!leg.rang) {
    // An offer that rang nowhere: the caller may end it, and nothing it sends goes anywhere.
    if (frame.type === 'call_end') svc.calls.drop(leg);
    return;
  }

  switch (frame.type) {
    case 'call_answer':
    case 'call_reject': {
      if (leg.role !== 'callee' || leg.live) {
        return s.reply(encodeError('forbidden', { id: frame.id, message: 'the call is not ringing on this device', timestamp: ts }));
      }
      if (frame.type === 'call_answer') svc.calls.goLive(leg, leg.peerDevice!);
      else svc.calls.drop(leg);
      const reached = toPeer(payload, frame.type === 'call_answer' ? 'answer' : 'end');
      const reason = frame.type === 'call_answer' ? 'answered_elsewhere' : 'rejected_elsewhere';
      svc.router.push(s.userId, encodeFrame('call_end', ts, { call_id: leg.callId, reason }, { sender_id: s.userId, sender_device: s.deviceId }), {
        except: s.deviceId,
        call: signal('end'),
      });
      if (frame.type === 'call_answer' && reached === 0 && !(await reachable(svc, leg.peerUser))) {
        svc.calls.drop(leg);
        s.reply(encodeError('target_offline', { id: frame.id, timestamp: ts, extra: { call_id: leg.callId } }));
      }
      return;
    }
    case 'call_end': {
      svc.calls.drop(leg);
      // A caller who hangs up before an answer stops every callee device ringing.
      const unanswered = leg.role === 'caller' && !leg.live;
      toPeer(unanswered && payload['reason'] === undefined ? { ...payload, reason: 'caller_hung_up' } : payload, 'end');
      return;
    }
    case 'ice_candidate':
      if (toPeer(payload) === 0 && !(await reachable(svc, leg.peerUser))) {
        s.reply(encodeError('target_offline', { id: frame.id, timestamp: ts, extra: { call_id: leg.callId } }));
      }
      return;
  }
}

async function offer(s: Session, frame: FrameOf<'call_offer'>, svc: Services, ts: string): Promise<void> {
  const p = frame.payload;
  const busy = () => s.reply(encodeFrame('call_busy', ts, { call_id: p.call_id, user_id: p.to }, { sender_id: p.to }));
  // The caller's own state is its own to know: a call id in use here, or a call of its own under way.
  if (svc.calls.legOf(p.call_id, s.userId, s.deviceId) || svc.calls.isBusy(s.userId, p.call_id)) return busy();
  const online = await reachable(svc, p.to, p.device_id);
  const calleeBusy = online && svc.calls.isBusy(p.to, p.call_id);
  if (!online || calleeBusy) {
    if (await svc.contacts.isMutual(s.userId, p.to).catch(() => false)) {
      if (!online) return s.reply(encodeError('target_offline', { id: frame.id, timestamp: ts, extra: { call_id: p.call_id } }));
      return busy();
    }
    // A stranger: the call is the caller's alone, and rings nowhere, until it ends or times out.
    svc.calls.call(p.call_id, s.userId, s.deviceId, p.to, false);
    return;
  }
  svc.calls.call(p.call_id, s.userId, s.deviceId, p.to, true);
  svc.router.push(p.to, encodeFrame('call_offer', ts, forwarded(p), { sender_id: s.userId, sender_device: s.deviceId }), {
    device: p.device_id,
    call: { callId: p.call_id, kind: 'offer', fromUser: s.userId, fromDevice: s.deviceId },
  });
}

/** The payload as the other party gets it: who it is for is the envelope's business. */
function forwarded(p: CallFrame['payload']): Omit<CallFrame['payload'], 'to' | 'device_id'> {
  const { to: _to, device_id: _device, ...rest } = p;
  return rest;
}

/**
 * Whether a user (or one device) can be reached now: connected here, or,
 * for the user as a whole, holding a presence lease on any node. A device
 * on another node counts when its user is online there.
 */
async function reachable(svc: Services, user: string, device?: string): Promise<boolean> {
  if (svc.router.isOnline(user, device)) return true;
  const online = await svc.presenceStore.onlineAmong([user], svc.now()).catch(() => new Set<string>());
  return online.has(user);
}

/**
 * A device disconnected: its calls end, and the other party hears so. A
 * callee device that was only ringing leaves quietly: the others still ring.
 */
export function endCallsOfDevice(s: Session, svc: Services): void {
  const ts = isoNow(svc);
  for (const leg of svc.calls.legsOfDevice(s.userId, s.deviceId)) {
    svc.calls.drop(leg);
    if (leg.role === 'callee' && !leg.live) continue;
    if (!leg.rang) continue;
    svc.router.push(leg.peerUser, encodeFrame('call_end', ts, { call_id: leg.callId, reason: 'disconnected' }, { sender_id: s.userId, sender_device: s.deviceId }), {
      device: leg.peerDevice,
      call: { callId: leg.callId, kind: 'end', fromUser: s.userId, fromDevice: s.deviceId },
    });
  }
}
