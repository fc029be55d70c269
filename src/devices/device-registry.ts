import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database, DevicesTable, DeviceStatus } from '../db/schema.ts';
import { deleteDeviceQueue } from '../delivery/postgres-queue-store.ts';
import { deviceKey } from '../delivery/queue-entry.ts';
import { withTimeout } from '../util/with-timeout.ts';
import { codeMatches, hashCode } from './approval-code.ts';
import { approvalMessage, decodeIdentityKey } from '../protocol/approval-message.ts';
import { decodeBase64Exact } from '../protocol/base64.ts';
import { decideApproval, decideRegistration, mayRevoke, operatorMayRevoke, type ApprovalDecision } from './approval-rules.ts';
import type { WindowVerdict } from '../limits/fixed-window.ts';
import type { SignatureVerifier } from './signature-verifier.ts';
import type { Config } from '../config/config.ts';
import { approvalLimits } from '../limits/approval-limits.ts';
import { inUserTx } from './user-lock.ts';

export interface DeviceRecord {
  deviceId: string;
  deviceName: string | null;
  deviceType: string | null;
  identityKey: string;
  isPrimary: boolean;
  approvedBy: string | null;
  approvalSignature: string | null;
  approvalRequest: string | null;
  approvedAt: string | null;
}

/** A device row as the device list shows it. */
export function toRecord(r: Selectable<DevicesTable>): DeviceRecord {
  return {
    deviceId: r.device_id,
    deviceName: r.device_name,
    deviceType: r.device_type,
    identityKey: r.identity_key ?? '',
    isPrimary: r.is_primary,
    approvedBy: r.approved_by,
    approvalSignature: r.approval_signature,
    approvalRequest: r.approval_request,
    approvedAt: r.approved_at ? new Date(r.approved_at).toISOString() : null,
  };
}

export interface RegistryOptions {
  maxDevices: number;
  approvalTtlMs: number;
  maxAttempts: number;
  timeoutMs: number;
}

/** The registry's options as the configuration sets them (the relay and the operator's CLI alike). */
export const registryOptions = (c: Pick<Config, 'MAX_DEVICES_PER_USER' | 'APPROVAL_TTL_SECONDS' | 'DB_TIMEOUT_MS'>): RegistryOptions => ({
  maxDevices: c.MAX_DEVICES_PER_USER,
  approvalTtlMs: c.APPROVAL_TTL_SECONDS * 1000,
  maxAttempts: approvalLimits.maxCodeAttempts,
  timeoutMs: c.DB_TIMEOUT_MS,
});

/** Refused by the rate limit counted in the same transaction. */
export type RateLimited = { kind: 'rate_limited'; retryAfterSeconds: number };

/**
 * Counts one attempt against the caller's limits inside the registry's
 * transaction, after the user's lock: the count commits with the change it
 * guards, and is kept when the attempt is refused.
 */
export type AttemptLimit = (tx: Transaction<Database>) => Promise<WindowVerdict>;

export type RegisterResult =
  | RateLimited
  | { kind: 'already_registered' | 'forbidden' | 'device_limit' }
  | { kind: 'primary'; devices: DeviceRecord[] }
  | { kind: 'pending'; requestId: string; code: string; expiresAt: Date; primaries: string[] };

export type ApproveResult =
  | RateLimited
  | Exclude<ApprovalDecision, { kind: 'approve' | 'expired' | 'wrong_code' }>
  | { kind: 'approve'; deviceId: string }
  | { kind: 'expired'; deviceId: string; closed: boolean }
  | { kind: 'wrong_code'; attemptsLeft: number; deny: boolean; deviceId: string };

export type DenyResult = RateLimited | { kind: 'not_found' | 'not_primary' | 'not_pending' } | { kind: 'denied'; deviceId: string };

/**
 * The device lifecycle in Postgres. Every change to a user's devices runs
 * in one transaction holding a per-user advisory lock, so two registrations,
 * or an approval and a revocation, of the same user never interleave; the
 * device cap is checked inside that lock.
 */
export class DeviceRegistry {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly opts: RegistryOptions,
    private readonly verify: SignatureVerifier,
    private readonly newRequestId: () => string,
    private readonly newCode: () => string,
  ) {}

  register(input: { userId: string; deviceId: string; identityKey: string; name: string; type: string; ip: string; userAgent: string }, now: number, limit: AttemptLimit): Promise<RegisterResult> {
    return this.limitedTx(input.userId, 'device registration', limit, async (tx) => {
      // The device's status and the user's approved count in one round trip, read under the user's lock.
      const facts = await tx
        .selectNoFrom((eb) => [
          eb.selectFrom('devices').select('status').where('user_id', '=', input.userId).where('device_id', '=', input.deviceId).as('status'),
          eb
            .selectFrom('devices')
            .select((c) => c.fn.countAll<string>().as('n'))
            .where('user_id', '=', input.userId)
            .where('status', '=', 'approved')
            .as('approved'),
        ])
        .executeTakeFirstOrThrow();
      const decision = decideRegistration(facts.status ?? 'unregistered', Number(facts.approved), this.opts.maxDevices);
      if (decision.kind !== 'primary' && decision.kind !== 'pending') return decision;

      // The device's identity and new status in one upsert: the row usually exists (written at the
      // upgrade), and the insert covers a device whose first write is still batched.
      const identity = { device_name: input.name, device_type: input.type, identity_key: input.identityKey, last_seen_at: new Date(now) };
      const fields = decision.kind === 'primary' ? { ...identity, status: 'approved' as const, is_primary: true, approved_at: new Date(now) } : { ...identity, status: 'pending' as const };
      const row = await tx
        .insertInto('devices')
        .values({ user_id: input.userId, device_id: input.deviceId, created_at: new Date(now), ...fields })
        .onConflict((oc) => oc.columns(['user_id', 'device_id']).doUpdateSet(fields))
        .returningAll()
        .executeTakeFirstOrThrow();
      // The user had no approved device: this one is the whole list.
      if (decision.kind === 'primary') return { kind: 'primary', devices: [toRecord(row)] };
      // A device that registers again replaces its earlier request (and its code).
      await this.cancelPending(tx, input.userId, input.deviceId, now);
      const requestId = this.newRequestId();
      const code = this.newCode();
      const expiresAt = new Date(now + this.opts.approvalTtlMs);
      await tx
        .insertInto('approval_requests')
        .values({
          request_id: requestId,
          user_id: input.userId,
          device_id: input.deviceId,
          code_hash: hashCode(requestId, code),
          status: 'pending',
          ip_address: input.ip,
          user_agent: input.userAgent,
          created_at: new Date(now),
          expires_at: expiresAt,
        })
        .execute();
      const primaries = await tx.selectFrom('devices').select('device_id').where('user_id', '=', input.userId).where('status', '=', 'approved').where('is_primary', '=', true).execute();
      return { kind: 'pending', requestId, code, expiresAt, primaries: primaries.map((p) => p.device_id) };
    });
  }

  approve(input: { userId: string; deviceId: string; requestId: string; code: string; signature: string }, now: number, limit: AttemptLimit): Promise<ApproveResult> {
    return this.limitedTx(input.userId, 'device approval', limit, async (tx) => {
      const request = await tx.selectFrom('approval_requests').selectAll().where('request_id', '=', input.requestId).forUpdate().executeTakeFirst();
      const approver = await this.deviceRow(tx, input.userId, input.deviceId);
      const target = request ? await this.deviceRow(tx, request.user_id, request.device_id) : undefined;
      const codeOk = request ? codeMatches(request.request_id, input.code, request.code_hash) : false;
      const decision = decideApproval({
        request: request && { userId: request.user_id, status: request.status, expiresAt: new Date(request.expires_at).getTime(), attempts: request.attempts },
        approver: approver && { userId: input.userId, status: approver.status, isPrimary: approver.is_primary },
        now,
        codeOk,
        signatureOk: codeOk && request !== undefined && target !== undefined && this.signatureValid(input, request.device_id, target.identity_key, approver?.identity_key),
        approvedCount: await this.approvedCount(tx, input.userId),
        maxDevices: this.opts.maxDevices,
        maxAttempts: this.opts.maxAttempts,
      });
      if (!request) return decision as ApproveResult;
      const deviceId = request.device_id;
      switch (decision.kind) {
        case 'expired':
          if (!decision.closed) await this.closeRequest(tx, request.request_id, 'expired', now);
          return { kind: 'expired', deviceId, closed: decision.closed };
        case 'wrong_code':
          if (decision.deny) await this.closeRequest(tx, request.request_id, 'denied', now);
          else
            await tx
              .updateTable('approval_requests')
              .set({ attempts: request.attempts + 1 })
              .where('request_id', '=', request.request_id)
              .execute();
          return { ...decision, deviceId };
        case 'approve':
          await tx
            .updateTable('devices')
            .set({ status: 'approved', approved_by: input.deviceId, approval_signature: input.signature, approval_request: request.request_id, approved_at: new Date(now) })
            .where('user_id', '=', request.user_id)
            .where('device_id', '=', deviceId)
            .execute();
          await tx
            .updateTable('approval_requests')
            .set({ status: 'approved', decided_at: new Date(now) })
            .where('request_id', '=', request.request_id)
            .execute();
          return { kind: 'approve', deviceId };
        default:
          return decision;
      }
    });
  }

  deny(input: { userId: string; deviceId: string; requestId: string }, now: number, limit: AttemptLimit): Promise<DenyResult> {
    return this.limitedTx(input.userId, 'device denial', limit, async (tx) => {
      const request = await tx.selectFrom('approval_requests').selectAll().where('request_id', '=', input.requestId).forUpdate().executeTakeFirst();
      const approver = await this.deviceRow(tx, input.userId, input.deviceId);
      if (!request || request.user_id !== input.userId) return { kind: 'not_found' };
      if (approver?.status !== 'approved' || !approver.is_primary) return { kind: 'not_primary' };
      if (request.status !== 'pending') return { kind: 'not_pending' };
      await this.closeRequest(tx, request.request_id, 'denied', now);
      return { kind: 'denied', deviceId: request.device_id };
    });
  }

  /**
   * Revokes a device for good: its status becomes final, its pending
   * requests are cancelled, its queue is dropped and its push target
   * removed (nothing may wake a revoked device). A revoked primary hands
   * the role to `promote` when given (an operator's choice; it must be
   * approved), else to the longest-approved remaining device. The actor is
   * a device of the user, or the operator (`device-admin-cli.ts`), who may
   * revoke any device that can still connect: the way out when the
   * primary itself is lost.
   */
  revoke(
    input: { userId: string; actor: { deviceId: string } | 'operator'; target: string; promote?: string },
    now: number,
  ): Promise<{ kind: 'forbidden' } | { kind: 'revoked'; promoted: string | undefined }> {
    return this.inUserTx(input.userId, 'device revocation', async (tx) => {
      const target = await this.deviceRow(tx, input.userId, input.target);
      let allowed: boolean;
      if (input.actor === 'operator') allowed = operatorMayRevoke(target);
      else {
        const actor = await this.deviceRow(tx, input.userId, input.actor.deviceId);
        allowed =
          actor !== undefined &&
          mayRevoke(
            { userId: input.userId, deviceId: input.actor.deviceId, status: actor.status, isPrimary: actor.is_primary },
            target && { userId: input.userId, deviceId: input.target, status: target.status },
          );
      }
      const heir = input.promote === undefined ? undefined : await this.deviceRow(tx, input.userId, input.promote);
      if (input.promote !== undefined && (heir?.status !== 'approved' || input.promote === input.target)) allowed = false;
      if (!allowed || !target) return { kind: 'forbidden' };
      await tx
        .updateTable('devices')
        .set({ status: 'revoked', is_primary: false, revoked_at: new Date(now) })
        .where('user_id', '=', input.userId)
        .where('device_id', '=', input.target)
        .execute();
      await this.cancelPending(tx, input.userId, input.target, now);
      await deleteDeviceQueue(tx, input.userId, input.target);
      await tx.deleteFrom('push_targets').where('user_id', '=', input.userId).where('device_id', '=', input.target).execute();
      let promoted: string | undefined;
      if (target.is_primary) {
        const next =
          input.promote ??
          (await tx.selectFrom('devices').select('device_id').where('user_id', '=', input.userId).where('status', '=', 'approved').orderBy('approved_at').limit(1).executeTakeFirst())?.device_id;
        if (next !== undefined) {
          await tx.updateTable('devices').set({ is_primary: true }).where('user_id', '=', input.userId).where('device_id', '=', next).execute();
          promoted = next;
        }
      }
      return { kind: 'revoked', promoted };
    });
  }

  /** Expires pending requests past their deadline; their devices are denied. Returns what expired. */
  async expire(now: number): Promise<{ userId: string; deviceId: string; requestId: string }[]> {
    const rows = await withTimeout(
      this.db
        .updateTable('approval_requests')
        .set({ status: 'expired', decided_at: new Date(now) })
        .where('status', '=', 'pending')
        .where('expires_at', '<=', new Date(now))
        .returning(['user_id', 'device_id', 'request_id'])
        .execute(),
      this.opts.timeoutMs,
      'approval expiry',
    );
    for (const r of rows) {
      await withTimeout(
        this.db.updateTable('devices').set({ status: 'denied' }).where('user_id', '=', r.user_id).where('device_id', '=', r.device_id).where('status', '=', 'pending').execute(),
        this.opts.timeoutMs,
        'approval expiry',
      );
    }
    return rows.map((r) => ({ userId: r.user_id, deviceId: r.device_id, requestId: r.request_id }));
  }

  /** A user's approved devices with the evidence a client needs to verify them. */
  async list(userId: string): Promise<DeviceRecord[]> {
    const rows = await withTimeout(
      this.db.selectFrom('devices').selectAll().where('user_id', '=', userId).where('status', '=', 'approved').orderBy('approved_at').execute(),
      this.opts.timeoutMs,
      'device list',
    );
    return rows.map(toRecord);
  }

  /**
   * The stored status of each device named, by `deviceKey`; a device with
   * no row is absent from the map. One round trip for the whole list.
   */
  async statuses(devices: readonly { userId: string; deviceId: string }[]): Promise<Map<string, DeviceStatus>> {
    if (devices.length === 0) return new Map();
    const { rows } = await withTimeout(
      sql<{ user_id: string; device_id: string; status: DeviceStatus }>`
        select d.user_id, d.device_id, d.status from devices d
        join unnest(${devices.map((x) => x.userId)}::text[], ${devices.map((x) => x.deviceId)}::text[]) as t(u, dv)
          on d.user_id = t.u and d.device_id = t.dv`.execute(this.db),
      this.opts.timeoutMs,
      'device statuses',
    );
    return new Map(rows.map((r) => [deviceKey(r.user_id, r.device_id), r.status]));
  }

  /** The request a pending device is waiting on (for its reconnect). */
  async pendingRequestOf(userId: string, deviceId: string): Promise<{ requestId: string; expiresAt: Date } | undefined> {
    const row = await withTimeout(
      this.db.selectFrom('approval_requests').select(['request_id', 'expires_at']).where('user_id', '=', userId).where('device_id', '=', deviceId).where('status', '=', 'pending').executeTakeFirst(),
      this.opts.timeoutMs,
      'pending request',
    );
    return row && { requestId: row.request_id, expiresAt: new Date(row.expires_at) };
  }

  private signatureValid(input: { userId: string; requestId: string; signature: string }, deviceId: string, targetKey: string | null, approverKey: string | null | undefined): boolean {
    const newKey = targetKey ? decodeIdentityKey(targetKey) : undefined;
    const primaryKey = approverKey ? decodeIdentityKey(approverKey) : undefined;
    // Canonical base64 of exactly 64 bytes, as the SDK encodes it: one signature has one spelling.
    const signature = decodeBase64Exact(input.signature, 64);
    if (!newKey || !primaryKey || !signature) return false;
    return this.verify(new Uint8Array(signature), approvalMessage(input.userId, deviceId, newKey, input.requestId), primaryKey);
  }

  private async closeRequest(tx: Transaction<Database>, requestId: string, status: 'denied' | 'expired', now: number): Promise<void> {
    const r = await tx
      .updateTable('approval_requests')
      .set({ status, decided_at: new Date(now) })
      .where('request_id', '=', requestId)
      .returning(['user_id', 'device_id'])
      .executeTakeFirstOrThrow();
    await tx
      .updateTable('devices')
      .set({ status: 'denied' as DeviceStatus })
      .where('user_id', '=', r.user_id)
      .where('device_id', '=', r.device_id)
      .where('status', '=', 'pending')
      .execute();
  }

  private async cancelPending(tx: Transaction<Database>, userId: string, deviceId: string, now: number): Promise<void> {
    await tx
      .updateTable('approval_requests')
      .set({ status: 'cancelled', decided_at: new Date(now) })
      .where('user_id', '=', userId)
      .where('device_id', '=', deviceId)
      .where('status', '=', 'pending')
      .execute();
  }

  private deviceRow(tx: Transaction<Database>, userId: string, deviceId: string) {
    return tx.selectFrom('devices').select(['status', 'is_primary', 'identity_key']).where('user_id', '=', userId).where('device_id', '=', deviceId).executeTakeFirst();
  }

  private async approvedCount(tx: Transaction<Database>, userId: string): Promise<number> {
    const row = await tx
      .selectFrom('devices')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .where('status', '=', 'approved')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** As inUserTx, with the attempt counted first; a refused attempt still commits its count. */
  private limitedTx<T>(userId: string, what: string, limit: AttemptLimit, fn: (tx: Transaction<Database>) => Promise<T>): Promise<T | RateLimited> {
    return this.inUserTx(userId, what, async (tx): Promise<T | RateLimited> => {
      const verdict = await limit(tx);
      if (!verdict.allowed) return { kind: 'rate_limited', retryAfterSeconds: verdict.retryAfterSeconds };
      return fn(tx);
    });
  }

  private inUserTx<T>(userId: string, what: string, fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    return inUserTx(this.db, userId, this.opts.timeoutMs, what, fn);
  }
}
