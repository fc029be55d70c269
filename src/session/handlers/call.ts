import type { CallFrameType, FrameOf } from '../../protocol/client-frames.ts';
import { encodeError, encodeFrame } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';

type CallFrame = FrameOf<CallFrameType>;

/**
 * Call signalling: ephemeral, forwarded only to connected devices, on this
 * node or (through the bus) any other.
 * - offer: `target_offline` when the callee has no device online anywhere,
 *   `call_busy` when the callee is in another call known to this node;
 *   otherwise every callee device rings.
 * - answer / reject: to the caller's device; the answering user's other
 *   devices get `call_end` (`answered_elsewhere` / `rejected_elsewhere`)
 *   wherever they are connected, so they stop ringing.
 * - end: to the other party; the call is forgotten.
 * - ice_candidate: to the other party's device in the call.
 * Frames for calls this node does not track (the call started on another
 * node) are forwarded to `to` as given.
 */
export async function handleCall(s: Session, frame: CallFrame, svc: Services): Promise<void> {
  const p = frame.payload;
  const ts = isoNow(svc);
  const forward = (type: CallFrameType, payload: CallFrame['payload'] = p) => {
    const { to: _to, device_id: _device, ...rest } = payload;
    return encodeFrame(type, ts, rest, { sender_id: s.userId, sender_device: s.deviceId });
  };
  const offline = () => s.reply(encodeError('target_offline', { id: frame.id, timestamp: ts, extra: { call_id: p.call_id } }));

  if (p.to === s.userId) {
    s.reply(encodeError('forbidden', { id: frame.id, message: 'a device cannot call its own user', timestamp: ts }));
    return;
  }
  const call = svc.calls.get(p.call_id);
  const isParty = call !== undefined && (call.callerUser === s.userId || call.calleeUser === s.userId);

  if (frame.type === 'call_offer') {
    if (!(await reachable(svc, p.to, p.device_id))) return offline();
    if (call !== undefined || svc.calls.isBusy(p.to, p.call_id) || svc.calls.isBusy(s.userId, p.call_id)) {
      s.reply(encodeFrame('call_busy', ts, { call_id: p.call_id, user_id: p.to }, { sender_id: p.to }));
      return;
    }
    svc.calls.start(p.call_id, s.userId, s.deviceId, p.to);
    svc.router.push(p.to, forward('call_offer'), { device: p.device_id });
    return;
  }

  if (!isParty) {
    // Not a call this node tracks (or the sender is not in it): plain forwarding to the named user.
    if (svc.router.push(p.to, forward(frame.type), { device: p.device_id }) === 0 && !(await reachable(svc, p.to))) return offline();
    if (frame.type === 'call_answer' || frame.type === 'call_reject') stopRinging(svc, p.call_id, s, frame.type, ts);
    return;
  }

  const callerSide = call.callerUser === s.userId && call.callerDevice === s.deviceId;
  const toOtherParty = (type: CallFrameType): number =>
    callerSide
      ? svc.router.push(call.calleeUser, forward(type), { device: call.answeredBy ?? p.device_id })
      : svc.router.push(call.callerUser, forward(type), { device: call.callerDevice });

  switch (frame.type) {
    case 'call_answer':
    case 'call_reject':
      if (callerSide || call.answeredBy !== undefined) {
        s.reply(encodeError('forbidden', { id: frame.id, message: 'the call is not ringing on this device', timestamp: ts }));
        return;
      }
      if (frame.type === 'call_answer') svc.calls.answer(call, s.deviceId);
      else svc.calls.remove(call);
      if (toOtherParty(frame.type) === 0 && frame.type === 'call_answer' && !(await reachable(svc, call.callerUser))) {
        svc.calls.remove(call);
        offline();
      }
      stopRinging(svc, call.id, s, frame.type, ts);
      return;
    case 'call_end':
      svc.calls.remove(call);
      toOtherParty('call_end');
      if (callerSide && call.answeredBy === undefined) {
        svc.router.push(call.calleeUser, encodeFrame('call_end', ts, { call_id: call.id, reason: 'caller_hung_up' }, { sender_id: s.userId, sender_device: s.deviceId }));
      }
      return;
    case 'ice_candidate':
      if (toOtherParty('ice_candidate') === 0 && !(await reachable(svc, p.to))) offline();
      return;
  }
}

/** The answering user's other devices stop ringing, wherever they are connected. */
function stopRinging(svc: Services, callId: string, s: Session, type: 'call_answer' | 'call_reject', ts: string): void {
  const reason = type === 'call_answer' ? 'answered_elsewhere' : 'rejected_elsewhere';
  svc.router.push(s.userId, encodeFrame('call_end', ts, { call_id: callId, reason }, { sender_id: s.userId, sender_device: s.deviceId }), { except: s.deviceId });
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

/** A device disconnected: its calls end, and the other party hears so. */
export function endCallsOfDevice(s: Session, svc: Services): void {
  const ts = isoNow(svc);
  for (const call of svc.calls.callsOfDevice(s.userId, s.deviceId)) {
    svc.calls.remove(call);
    const frame = encodeFrame('call_end', ts, { call_id: call.id, reason: 'disconnected' }, { sender_id: s.userId, sender_device: s.deviceId });
    if (call.callerUser === s.userId) svc.router.push(call.calleeUser, frame, { device: call.answeredBy });
    else svc.router.push(call.callerUser, frame, { device: call.callerDevice });
  }
}
