import type { FrameOf } from '../../protocol/client-frames.ts';
import { encodeError, encodeFrame } from '../../protocol/server-frames.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';

/**
 * `token_refresh`: a renewed access token for the open socket, so a device
 * keeps its connection past the first token's `exp`. The new token must
 * verify as at upgrade, name the same user and device, and expire later
 * than the current one; the socket then closes at the new `exp` instead.
 * Anything else is `invalid_token` and changes nothing: the socket still
 * closes with 4401 at the old `exp`.
 */
export async function handleTokenRefresh(s: Session, frame: FrameOf<'token_refresh'>, svc: Services): Promise<void> {
  const refuse = (message: string) => s.reply(encodeError('invalid_token', { id: frame.id, message, timestamp: isoNow(svc) }));
  const token = frame.payload.token;
  if (token.length > svc.config.MAX_TOKEN_BYTES) return refuse('token too long');
  const v = await svc.verifier.verify(token);
  if (!v.ok) return refuse(v.expired ? 'token expired' : 'invalid token');
  if (v.principal.userId !== s.userId || v.principal.deviceId !== s.deviceId) return refuse('the token is for another device');
  if (v.principal.expiresAt <= s.expiresAt) return refuse('the token does not expire later than the current one');
  if (s.closed) return;
  s.expiresAt = v.principal.expiresAt;
  svc.expiry.add(s);
  s.reply(encodeFrame('token_refreshed', isoNow(svc), { expires_at: new Date(s.expiresAt).toISOString() }));
}
