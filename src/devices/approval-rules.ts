import type { DeviceStatus, RequestStatus } from '../db/schema.ts';

/**
 * The decisions of the approval flow, as pure functions over plain facts,
 * so each rule can be tested without a database.
 */

export interface RequestFacts {
  userId: string;
  status: RequestStatus;
  expiresAt: number;
  attempts: number;
}

export interface ApproverFacts {
  userId: string;
  status: DeviceStatus;
  isPrimary: boolean;
}

export type ApprovalDecision =
  | { kind: 'not_found' }
  | { kind: 'not_primary' }
  | { kind: 'not_pending' }
  /** `closed`: the request was already marked expired (by the sweep or an earlier attempt); nothing is left to do but say so. */
  | { kind: 'expired'; closed: boolean }
  | { kind: 'wrong_code'; attemptsLeft: number; deny: boolean }
  | { kind: 'bad_signature' }
  | { kind: 'device_limit' }
  | { kind: 'approve' };

export interface ApprovalInput {
  request: RequestFacts | undefined;
  approver: ApproverFacts | undefined;
  now: number;
  codeOk: boolean;
  signatureOk: boolean;
  approvedCount: number;
  maxDevices: number;
  maxAttempts: number;
}

/**
 * In order: the request must exist for the approver's user; the approver
 * must be an approved primary; the request must still be pending and
 * unexpired; the code must match (each miss counts, the last one denies);
 * the signature must verify; the user must have room for one more device.
 */
export function decideApproval(i: ApprovalInput): ApprovalDecision {
  if (!i.request || !i.approver || i.request.userId !== i.approver.userId) return { kind: 'not_found' };
  if (i.approver.status !== 'approved' || !i.approver.isPrimary) return { kind: 'not_primary' };
  // Expired is expired, whether or not the sweep got there first: the primary hears the same answer.
  if (i.request.status === 'expired') return { kind: 'expired', closed: true };
  if (i.request.status !== 'pending') return { kind: 'not_pending' };
  if (i.now >= i.request.expiresAt) return { kind: 'expired', closed: false };
  if (!i.codeOk) {
    const used = i.request.attempts + 1;
    return { kind: 'wrong_code', attemptsLeft: Math.max(0, i.maxAttempts - used), deny: used >= i.maxAttempts };
  }
  if (!i.signatureOk) return { kind: 'bad_signature' };
  if (i.approvedCount >= i.maxDevices) return { kind: 'device_limit' };
  return { kind: 'approve' };
}

export type RegistrationDecision = { kind: 'already_registered' } | { kind: 'forbidden' } | { kind: 'primary' } | { kind: 'device_limit' } | { kind: 'pending' };

/** The first device of a user anchors it as primary; later ones wait for approval. */
export function decideRegistration(status: DeviceStatus, approvedCount: number, maxDevices: number): RegistrationDecision {
  if (status === 'approved') return { kind: 'already_registered' };
  if (status === 'denied' || status === 'revoked') return { kind: 'forbidden' };
  if (approvedCount === 0) return { kind: 'primary' };
  if (approvedCount >= maxDevices) return { kind: 'device_limit' };
  return { kind: 'pending' };
}

/** A device may revoke itself; a primary may revoke any device of its user. */
export function mayRevoke(actor: ApproverFacts & { deviceId: string }, target: { userId: string; deviceId: string; status: DeviceStatus } | undefined): boolean {
  if (!target || target.userId !== actor.userId || actor.status !== 'approved' || target.status === 'revoked') return false;
  return actor.isPrimary || actor.deviceId === target.deviceId;
}

/** Statuses that may never connect again with the same device id. */
export const isFinal = (s: DeviceStatus): boolean => s === 'denied' || s === 'revoked';

export type ListSigningDecision = { kind: 'not_primary' } | { kind: 'stale_version'; current: number } | { kind: 'bad_signature' } | { kind: 'sign' };

/**
 * Whether a signed device list replaces the stored one: only the current
 * primary signs, each version exactly once and in order (the next after the
 * stored one), and the signature must cover the list as the relay holds it
 * now, checked with the primary's stored key.
 */
export function decideListSigning(i: { actor: ApproverFacts | undefined; storedVersion: number; version: number; signatureOk: boolean }): ListSigningDecision {
  if (i.actor?.status !== 'approved' || !i.actor.isPrimary) return { kind: 'not_primary' };
  if (i.version !== i.storedVersion + 1) return { kind: 'stale_version', current: i.storedVersion };
  if (!i.signatureOk) return { kind: 'bad_signature' };
  return { kind: 'sign' };
}

/**
 * An operator may revoke any device that can still connect: the way out for
 * a user whose primary is lost or stolen, since no other device may revoke
 * a primary.
 */
export const operatorMayRevoke = (target: { status: DeviceStatus } | undefined): boolean => target !== undefined && !isFinal(target.status);
