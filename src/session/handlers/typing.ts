import type { FrameOf } from '../../protocol/client-frames.ts';
import { encodeFrame } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';

/** `typing`: ephemeral, to the recipient's connected devices only; nobody online means nobody told. */
export function handleTyping(s: Session, frame: FrameOf<'typing'>, svc: Services): void {
  const out = encodeFrame(
    'typing',
    isoNow(svc),
    { conversation_id: frame.payload.conversation_id, is_typing: frame.payload.is_typing },
    { sender_id: s.userId, sender_device: s.deviceId },
  );
  svc.router.push(frame.payload.to, out, { except: frame.payload.to === s.userId ? s.deviceId : undefined });
}
