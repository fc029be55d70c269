import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';
import { decodeBase64Exact } from '../protocol/base64.ts';
import { decodeIdentityKey } from '../protocol/approval-message.ts';
import { deviceListMessage, type DeviceListStatement, type SignedDeviceList } from '../protocol/device-list-message.ts';
import { withTimeout } from '../util/with-timeout.ts';
import { decideListSigning, type ListSigningDecision } from './approval-rules.ts';
import { toRecord, type DeviceRecord } from './device-registry.ts';
import type { SignatureVerifier } from './signature-verifier.ts';
import { inUserTx } from './user-lock.ts';

/** What a `devices` frame shows of a user: approved devices, revoked ids, and the latest list its primary signed. */
export interface DevicesView {
  devices: DeviceRecord[];
  revoked: string[];
  signed: SignedDeviceList | null;
}

export type SignListResult = Exclude<ListSigningDecision, { kind: 'sign' }> | { kind: 'signed'; version: number };

/**
 * Device lists signed as a whole by the user's primary. The relay proposes
 * nothing and trusts nothing here: it shows the primary the devices and
 * revocations it holds, and stores a signature only if it covers exactly
 * those under the next version, so the stored list is always one the
 * primary vouched for. Clients check it themselves (docs/device-approval.md).
 */
export class DeviceLists {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly verify: SignatureVerifier,
    private readonly timeoutMs: number,
  ) {}

  view(userId: string): Promise<DevicesView> {
    return withTimeout(this.read(this.db, userId), this.timeoutMs, 'device list');
  }

  /** Stores the primary's signature over the user's list as it stands, as `version`. */
  sign(input: { userId: string; deviceId: string; version: number; signature: string }, now: number): Promise<SignListResult> {
    return inUserTx(this.db, input.userId, this.timeoutMs, 'device list signing', async (tx) => {
      const view = await this.read(tx, input.userId);
      const actor = await tx.selectFrom('devices').select(['status', 'is_primary', 'identity_key']).where('user_id', '=', input.userId).where('device_id', '=', input.deviceId).executeTakeFirst();
      const statement = statementOf(view, input.version);
      const decision = decideListSigning({
        actor: actor && { userId: input.userId, status: actor.status, isPrimary: actor.is_primary },
        storedVersion: view.signed?.version ?? 0,
        version: input.version,
        signatureOk: statement !== undefined && this.signatureValid(input.userId, statement, input.signature, actor?.identity_key ?? null),
      });
      if (decision.kind !== 'sign' || !statement) return decision.kind === 'sign' ? { kind: 'bad_signature' } : decision;
      const row = { version: input.version, signer: input.deviceId, signature: input.signature, statement: JSON.stringify(statement), signed_at: new Date(now) };
      await tx
        .insertInto('device_lists')
        .values({ user_id: input.userId, ...row })
        .onConflict((oc) => oc.column('user_id').doUpdateSet(row))
        .execute();
      return { kind: 'signed', version: input.version };
    });
  }

  private async read(db: Kysely<Database> | Transaction<Database>, userId: string): Promise<DevicesView> {
    const rows = await db.selectFrom('devices').selectAll().where('user_id', '=', userId).where('status', 'in', ['approved', 'revoked']).orderBy('approved_at').orderBy('device_id').execute();
    const stored = await db.selectFrom('device_lists').selectAll().where('user_id', '=', userId).executeTakeFirst();
    return {
      devices: rows.filter((r) => r.status === 'approved').map(toRecord),
      revoked: rows
        .filter((r) => r.status === 'revoked')
        .map((r) => r.device_id)
        .sort(),
      signed: stored ? { ...(JSON.parse(stored.statement) as DeviceListStatement), version: Number(stored.version), signer: stored.signer, signature: stored.signature } : null,
    };
  }

  private signatureValid(userId: string, statement: DeviceListStatement, signature: string, signerKey: string | null): boolean {
    const key = signerKey ? decodeIdentityKey(signerKey) : undefined;
    const sig = decodeBase64Exact(signature, 64);
    const message = deviceListMessage(userId, statement);
    return key !== undefined && sig !== undefined && message !== undefined && this.verify(new Uint8Array(sig), message, key);
  }
}

/** The list as the relay holds it, under `version`; undefined while the user has no primary. */
export function statementOf(view: Pick<DevicesView, 'devices' | 'revoked'>, version: number): DeviceListStatement | undefined {
  const primary = view.devices.find((d) => d.isPrimary);
  if (!primary) return undefined;
  return { version, primary: primary.deviceId, devices: view.devices.map((d) => ({ device_id: d.deviceId, identity_key: d.identityKey })), revoked: [...view.revoked] };
}
