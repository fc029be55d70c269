import { BROADCAST } from '../../bus/bus.ts';
import type { DeviceStatus } from '../../db/schema.ts';
import { isFinal } from '../../devices/approval-rules.ts';
import type { DevicesView } from '../../devices/device-lists.ts';
import type { AttemptLimit, RateLimited } from '../../devices/device-registry.ts';
import { dedupKey, newEntry } from '../../delivery/queue-entry.ts';
import { decodeIdentityKey } from '../../protocol/approval-message.ts';
import { approvalLimits } from '../../limits/approval-limits.ts';
import type { FrameOf } from '../../protocol/client-frames.ts';
import { CloseCode } from '../../protocol/close-codes.ts';
import type { ErrorCode } from '../../protocol/error-codes.ts';
import { encodeError, encodeFrame } from '../../protocol/server-frames.ts';
import type { Logger } from '../../util/logger.ts';
import type { Session } from '../session.ts';
import { isoNow, type Services } from '../services.ts';
import { bump } from '../../metrics/relay-counters.ts';

/**
 * The device approval flow (see docs/device-approval.md):
 * register -> (first device: primary, approved) or (pending + code shown on
 * the new device + durable request to the primaries) -> approve with code
 * and Ed25519 signature, or deny, or expire. Revocation is final.
 */

const fail = (s: Session, svc: Services, code: ErrorCode, id: string | undefined, extra?: Record<string, unknown>) =>
  s.reply(encodeError(code, { id, timestamp: isoNow(svc), ...(extra ? { extra } : {}) }));

/** The attempt limits of this device and its user, counted inside the registry's transaction. */
function attemptLimit(s: Session, svc: Services, kind: 'register' | 'decide', now: number): AttemptLimit {
  const [perDevice, perUser] = kind === 'register' ? [approvalLimits.registerPerDevice, approvalLimits.registerPerUser] : [approvalLimits.decidePerDevice, approvalLimits.decidePerUser];
  const rules = [
    // Joined with '/', which ids never hold (fields.ts; ':' they may): no two (user, device) pairs share a key.
    { key: `${kind}/device/${s.userId}/${s.deviceId}`, rule: perDevice },
    { key: `${kind}/user/${s.userId}`, rule: perUser },
  ];
  return (tx) => svc.rateLimit.hit(rules, now, tx);
}

const failRateLimited = (s: Session, svc: Services, id: string | undefined, r: RateLimited) => fail(s, svc, 'rate_limited', id, { retry_after: r.retryAfterSeconds });

export async function handleRegister(s: Session, frame: FrameOf<'device_register'>, svc: Services): Promise<void> {
  if (s.isApproved) return fail(s, svc, 'already_registered', frame.id);
  const p = frame.payload;
  if (!decodeIdentityKey(p.identity_key)) return fail(s, svc, 'invalid_message', frame.id, { field: 'payload.identity_key' });
  const now = svc.now();
  const r = await svc.registry.register(
    { userId: s.userId, deviceId: s.deviceId, identityKey: p.identity_key, name: p.device_name, type: p.device_type, ip: s.client.ip, userAgent: s.client.userAgent },
    now,
    attemptLimit(s, svc, 'register', now),
  );
  bump(svc.counters.approvals, `register:${r.kind}`);
  switch (r.kind) {
    case 'rate_limited':
      return failRateLimited(s, svc, frame.id, r);
    case 'already_registered':
    case 'device_limit':
      return fail(s, svc, r.kind, frame.id);
    case 'forbidden':
      fail(s, svc, 'forbidden', frame.id);
      return s.close(CloseCode.deviceNotAllowed);
    case 'primary':
      applyDeviceStatus(svc, s.userId, s.deviceId, { status: 'approved', frame: encodeFrame('device_approved', isoNow(svc), { request_id: null, device_id: s.deviceId, primary: true }) });
      devicesChanged(svc, s.userId);
      // Read afresh rather than from the registry's answer: a user whose devices were all revoked
      // keeps its revoked ids and its last signed list, and the new primary must see both.
      return broadcastDevices(s.userId, svc);
    case 'pending': {
      s.status = 'pending';
      const expiresAt = r.expiresAt.toISOString();
      s.reply(encodeFrame('device_approval_pending', isoNow(svc), { request_id: r.requestId, code: r.code, expires_at: expiresAt }));
      // The primaries hear about it even when offline: the request is a stored frame, acked like a message.
      const frameText = encodeFrame(
        'device_approval_request',
        isoNow(svc),
        {
          request_id: r.requestId,
          user_id: s.userId,
          device_id: s.deviceId,
          device_name: p.device_name,
          device_type: p.device_type,
          identity_key: p.identity_key,
          expires_at: expiresAt,
          ip_address: s.client.ip,
          user_agent: s.client.userAgent,
        },
        { message_id: r.requestId },
      );
      const entries = r.primaries.map((primary) =>
        newEntry({
          recipientUser: s.userId,
          recipientDevice: primary,
          dedupKey: dedupKey('device_approval_request', r.requestId),
          messageId: r.requestId,
          kind: 'device_approval_request',
          senderUser: s.userId,
          senderDevice: s.deviceId,
          frame: frameText,
          createdAt: new Date(now),
        }),
      );
      if (!svc.delivery.store(entries)) fail(s, svc, 'overloaded', frame.id, { retry_after: 1 });
      return;
    }
  }
}

export async function handleApprove(s: Session, frame: FrameOf<'device_approve'>, svc: Services): Promise<void> {
  const p = frame.payload;
  const now = svc.now();
  const r = await svc.registry.approve({ userId: s.userId, deviceId: s.deviceId, requestId: p.request_id, code: p.code, signature: p.signature }, now, attemptLimit(s, svc, 'decide', now));
  bump(svc.counters.approvals, `approve:${r.kind}`);
  switch (r.kind) {
    case 'rate_limited':
      return failRateLimited(s, svc, frame.id, r);
    case 'not_found':
      return fail(s, svc, 'request_not_found', frame.id);
    case 'not_primary':
    case 'device_limit':
      return fail(s, svc, r.kind, frame.id);
    case 'not_pending':
      return fail(s, svc, 'request_not_pending', frame.id);
    case 'bad_signature':
      return fail(s, svc, 'invalid_signature', frame.id);
    case 'expired':
      fail(s, svc, 'request_expired', frame.id);
      // Closed earlier: its device was denied then.
      if (!r.closed) denyDevice(svc, s.userId, r.deviceId, p.request_id, 'expired');
      return;
    case 'wrong_code':
      fail(s, svc, 'invalid_code', frame.id, { attempts_left: r.attemptsLeft });
      if (r.deny) denyDevice(svc, s.userId, r.deviceId, p.request_id, 'too_many_attempts');
      return;
    case 'approve':
      deviceStatusChanged(svc, s.userId, r.deviceId, {
        status: 'approved',
        frame: encodeFrame('device_approved', isoNow(svc), { request_id: p.request_id, device_id: r.deviceId, approved_by: s.deviceId }),
      });
      return broadcastDevices(s.userId, svc);
  }
}

export async function handleDeny(s: Session, frame: FrameOf<'device_deny'>, svc: Services): Promise<void> {
  const now = svc.now();
  const r = await svc.registry.deny({ userId: s.userId, deviceId: s.deviceId, requestId: frame.payload.request_id }, now, attemptLimit(s, svc, 'decide', now));
  bump(svc.counters.approvals, `deny:${r.kind}`);
  if (r.kind === 'rate_limited') return failRateLimited(s, svc, frame.id, r);
  if (r.kind !== 'denied') {
    const code = r.kind === 'not_found' ? 'request_not_found' : r.kind === 'not_pending' ? 'request_not_pending' : 'not_primary';
    return fail(s, svc, code, frame.id);
  }
  denyDevice(svc, s.userId, r.deviceId, frame.payload.request_id, 'denied_by_primary');
}

export async function handleRevoke(s: Session, frame: FrameOf<'device_revoke'>, svc: Services): Promise<void> {
  const target = frame.payload.device_id;
  const r = await svc.registry.revoke({ userId: s.userId, actor: { deviceId: s.deviceId }, target }, svc.now());
  if (r.kind === 'forbidden') return fail(s, svc, 'forbidden', frame.id);
  return afterRevocation(svc, s.userId, target, s.log);
}

/**
 * What follows a revocation the registry stored, whoever asked for it (the
 * primary, the device itself, or an operator through the admin API): the
 * revoked device's sockets close with 4403 on every node, and the user's
 * other devices get the new list.
 */
export async function afterRevocation(svc: Services, userId: string, target: string, log: Logger): Promise<void> {
  // The registry dropped the stored queue; writes still on their way must not bring it back. Queued
  // ones are dropped here; a batch committed after the registry's delete (in flight then, or
  // committed before this line ran) is cleared by a second delete once it is done. Other nodes'
  // in-flight batches are caught by the sweeper's purge of revoked devices.
  const purging = svc.delivery.purge(userId, target);
  deviceStatusChanged(svc, userId, target, { status: 'revoked', reason: 'device revoked' });
  await purging.catch((err: unknown) => log.warn('queue drop after revocation failed; the sweeper will retry', { err }));
  return broadcastDevices(userId, svc);
}

/**
 * The primary signs its user's whole device list. Every device of the user
 * gets the new list, with the signature, once it is stored.
 */
export async function handleListSign(s: Session, frame: FrameOf<'device_list_sign'>, svc: Services): Promise<void> {
  const r = await svc.deviceLists.sign({ userId: s.userId, deviceId: s.deviceId, version: frame.payload.version, signature: frame.payload.signature }, svc.now());
  switch (r.kind) {
    case 'not_primary':
      return fail(s, svc, 'not_primary', frame.id);
    case 'stale_version':
      return fail(s, svc, 'stale_list_version', frame.id, { version: r.current });
    case 'bad_signature':
      return fail(s, svc, 'invalid_signature', frame.id);
    case 'signed':
      s.reply(encodeFrame('device_list_signed', isoNow(svc), { version: r.version }));
      return broadcastDevices(s.userId, svc);
  }
}

export async function handleDevicesList(s: Session, frame: FrameOf<'devices_list'>, svc: Services): Promise<void> {
  s.reply(await devicesFrame(frame.payload.user_id, svc));
}

/** Tells a denied device why, and closes it for good (4403), on whichever node holds it. */
export function denyDevice(svc: Services, userId: string, deviceId: string, requestId: string, reason: string): void {
  deviceStatusChanged(svc, userId, deviceId, { status: 'denied', reason, frame: encodeFrame('device_denied', isoNow(svc), { request_id: requestId, reason }) });
}

export interface StatusChange {
  status: DeviceStatus;
  /** What the device is told before anything else happens. */
  frame?: string | undefined;
  /** Close reason for denied and revoked devices. */
  reason?: string | undefined;
}

/**
 * Applies a device's new status to its socket on this node, if it has one:
 * approved devices are told and get their backlog; denied and revoked ones
 * are told and closed with 4403. Also runs for the same change published by
 * another node.
 */
export function applyDeviceStatus(svc: Services, userId: string, deviceId: string, change: StatusChange): void {
  const session = svc.hub.find(userId, deviceId);
  if (!session) return;
  session.status = change.status;
  if (change.frame) session.reply(change.frame);
  if (change.status === 'approved') startApproved(session, svc);
  else if (isFinal(change.status)) session.close(CloseCode.deviceNotAllowed, change.reason ?? change.status);
}

/** An approved device's session starts: backlog first, then live delivery, and a presence lease. */
export function startApproved(session: Session, svc: Services): void {
  void session.drain();
  void svc.presence.online(session);
}

/** A device's status changed: act here, tell the other nodes, and drop every node's cached device set. */
function deviceStatusChanged(svc: Services, userId: string, deviceId: string, change: StatusChange): void {
  applyDeviceStatus(svc, userId, deviceId, change);
  svc.bus.publish(userId, { k: 'device', device: deviceId, ...change });
  devicesChanged(svc, userId);
}

function devicesChanged(svc: Services, userId: string): void {
  svc.devices.invalidate(userId);
  svc.bus.publish(BROADCAST, { k: 'devices_changed', user: userId });
}

async function devicesFrame(userId: string, svc: Services): Promise<string> {
  return listFrame(userId, await svc.deviceLists.view(userId), svc);
}

function listFrame(userId: string, view: DevicesView, svc: Services): string {
  return encodeFrame('devices', isoNow(svc), {
    user_id: userId,
    revoked: view.revoked,
    signed_list: view.signed,
    devices: view.devices.map((d) => ({
      device_id: d.deviceId,
      device_name: d.deviceName,
      device_type: d.deviceType,
      identity_key: d.identityKey,
      primary: d.isPrimary,
      approved_by: d.approvedBy,
      approval_signature: d.approvalSignature,
      approval_request: d.approvalRequest,
      approved_at: d.approvedAt,
    })),
  });
}

/** Every approved device of the user, on any node, gets the new list. */
export async function broadcastDevices(userId: string, svc: Services): Promise<void> {
  svc.router.push(userId, await devicesFrame(userId, svc));
}

/**
 * A pending device reconnected: remind it which request it waits on. The
 * code is not repeated (only its hash is kept); a device that lost it
 * registers again for a new one.
 */
export async function remindPending(s: Session, svc: Services): Promise<void> {
  const pending = await svc.registry.pendingRequestOf(s.userId, s.deviceId);
  if (pending) s.reply(encodeFrame('device_approval_pending', isoNow(svc), { request_id: pending.requestId, code: null, expires_at: pending.expiresAt.toISOString() }));
}
