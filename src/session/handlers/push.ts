import type { FrameOf } from '../../protocol/client-frames.ts';
import { encodeError, encodeFrame } from '../../protocol/server-frames.ts';
import { endpointAllowed, type PushTarget } from '../../push/push-target.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';

/**
 * `push_register` / `push_unregister`: how an approved device is woken
 * while it is offline (docs/push.md). One target per device; a new one
 * replaces the old. A Web Push endpoint must be at one of the configured
 * push services, so that no device can make the relay call an arbitrary URL.
 */
export async function handlePushRegister(s: Session, frame: FrameOf<'push_register'>, svc: Services): Promise<void> {
  const p = frame.payload;
  if (!svc.push.kinds.has(p.kind)) {
    return s.reply(encodeError('push_unavailable', { id: frame.id, timestamp: isoNow(svc), extra: { kinds: [...svc.push.kinds] } }));
  }
  let target: PushTarget;
  if (p.kind === 'webpush') {
    const { endpoint, keys } = p.subscription;
    if (!endpointAllowed(endpoint, svc.push.origins)) return s.reply(encodeError('push_endpoint_refused', { id: frame.id, timestamp: isoNow(svc) }));
    // An uncompressed P-256 point starts with 0x04, which base64url writes as "B".
    if (!keys.p256dh.startsWith('B'))
      return s.reply(encodeError('invalid_message', { id: frame.id, message: 'payload.subscription.keys.p256dh: not an uncompressed P-256 key', timestamp: isoNow(svc) }));
    target = { kind: 'webpush', endpoint, p256dh: keys.p256dh.replace(/=+$/, ''), auth: keys.auth.replace(/=+$/, '') };
  } else {
    target = { kind: 'webhook', token: p.token };
  }
  await svc.push.store.register(s.userId, s.deviceId, target, svc.now());
  s.reply(encodeFrame('push_registered', isoNow(svc), { kind: p.kind }));
}

export async function handlePushUnregister(s: Session, _frame: FrameOf<'push_unregister'>, svc: Services): Promise<void> {
  await svc.push.store.remove(s.userId, s.deviceId);
  s.reply(encodeFrame('push_unregistered', isoNow(svc), {}));
}
