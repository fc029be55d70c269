import { disconnectHere } from '../session/cluster-events.ts';
import { afterRevocation } from '../session/handlers/devices.ts';
import type { Services } from '../session/services.ts';
import type { Logger } from '../util/logger.ts';
import { withTimeout } from '../util/with-timeout.ts';
import type { AdminRequest } from './admin-routes.ts';
import type { AdminStore } from './admin-store.ts';

/** An action's answer: an HTTP status, a JSON body, and the outcome it is counted and logged under. */
export interface AdminAnswer {
  status: number;
  outcome: string;
  body: Record<string, unknown>;
}

export interface AdminDeps {
  svc: Services;
  store: AdminStore;
  /** Devices of a user with an open socket on any node (the connection leases). */
  liveDevices(user: string, now: number): Promise<Set<string>>;
  log: Logger;
}

const ok = (body: Record<string, unknown>): AdminAnswer => ({ status: 200, outcome: 'ok', body });
const refused = (status: number, outcome: string, message: string): AdminAnswer => ({ status, outcome, body: { error: outcome, message } });

/**
 * Carries out one admin request on this node. Kicks and revocations reach
 * the other nodes over the bus, exactly as a device's own revocation does;
 * reads and the purge go to the database.
 */
export async function runAdminAction(d: AdminDeps, req: AdminRequest, body: { promote?: string }): Promise<AdminAnswer> {
  const { svc } = d;
  switch (req.action) {
    case 'list_devices': {
      const now = svc.now();
      const [rows, live] = await Promise.all([d.store.devicesOf(req.user), withTimeout(d.liveDevices(req.user, now), svc.config.DB_TIMEOUT_MS, 'connection leases')]);
      if (rows.length === 0) return refused(404, 'unknown_user', `no device of ${req.user} is known`);
      return ok({
        user: req.user,
        devices: rows.map((r) => ({
          device_id: r.deviceId,
          device_name: r.deviceName,
          device_type: r.deviceType,
          status: r.status,
          primary: r.primary,
          connected: live.has(r.deviceId),
          connected_here: svc.hub.find(req.user, r.deviceId) !== undefined,
          created_at: r.createdAt,
          last_seen_at: r.lastSeenAt,
          approved_at: r.approvedAt,
          revoked_at: r.revokedAt,
          queue: r.queue,
        })),
      });
    }
    case 'kick_user':
    case 'kick_device': {
      const device = req.action === 'kick_device' ? req.device : undefined;
      if (device !== undefined && !(await d.store.exists(req.user, device))) return unknownDevice(req.user, device);
      const closedHere = disconnectHere(svc, req.user, device);
      const otherNodes = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), 2_000);
        svc.bus.publish(req.user, { k: 'disconnect', device }, (_msg, others) => {
          clearTimeout(timer);
          resolve(others);
        });
      });
      // The other nodes close what they hold when the message reaches them; their count is not known here.
      return ok({ user: req.user, ...(device === undefined ? {} : { device }), closed_here: closedHere, other_nodes_reached: otherNodes });
    }
    case 'revoke_device': {
      const r = await svc.registry.revoke({ userId: req.user, actor: 'operator', target: req.device, ...(body.promote ? { promote: body.promote } : {}) }, svc.now());
      if (r.kind === 'forbidden') {
        return refused(409, 'not_revocable', `${req.user}/${req.device} is unknown or already denied or revoked${body.promote ? `, or ${body.promote} is not an approved device` : ''}`);
      }
      await afterRevocation(svc, req.user, req.device, d.log);
      return ok({ user: req.user, revoked: req.device, promoted: r.promoted ?? null });
    }
    case 'queue_stats': {
      if (!(await d.store.exists(req.user, req.device))) return unknownDevice(req.user, req.device);
      return ok({ user: req.user, device: req.device, ...(await d.store.queueOf(req.user, req.device)) });
    }
    case 'purge_queue': {
      if (!(await d.store.exists(req.user, req.device))) return unknownDevice(req.user, req.device);
      // As on revocation: entries not yet written are dropped here, then what the batch in flight wrote, then the rest.
      const purged = await svc.delivery.purge(req.user, req.device);
      return ok({ user: req.user, device: req.device, purged });
    }
  }
}

const unknownDevice = (user: string, device: string): AdminAnswer => refused(404, 'unknown_device', `${user}/${device} is not a known device`);
