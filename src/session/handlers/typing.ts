import type { FrameOf } from '../../protocol/client-frames.ts';
import { encodeFrame } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';
import type { TypingSignal } from '../typing-tracker.ts';

/**
 * `typing`: ephemeral, to the recipient's connected devices only; nobody
 * online means nobody told. The tracker ends an indicator nobody renews or
 * whose typer left (typing-tracker.ts).
 */
export function handleTyping(s: Session, frame: FrameOf<'typing'>, svc: Services): void {
  const signal: TypingSignal = { userId: s.userId, deviceId: s.deviceId, to: frame.payload.to, conversationId: frame.payload.conversation_id };
  svc.typing.typed(s, signal, frame.payload.is_typing);
  sendTyping(svc, signal, frame.payload.is_typing);
}

/** Forwards one typing state to the recipient's devices (the typer's own device excepted when it types to its own user). */
export function sendTyping(svc: Pick<Services, 'router' | 'now'>, signal: TypingSignal, isTyping: boolean): void {
  const out = encodeFrame('typing', isoNow(svc), { conversation_id: signal.conversationId, is_typing: isTyping }, { sender_id: signal.userId, sender_device: signal.deviceId });
  svc.router.push(signal.to, out, { except: signal.to === signal.userId ? signal.deviceId : undefined });
}
