import { denyDevice } from './handlers/devices.ts';
import type { Services } from './services.ts';
import { bump } from '../metrics/relay-counters.ts';

/**
 * Expires approval requests past their deadline, every `intervalMs`: the
 * device is denied, told why, and closed with 4403. Also drops stale rate
 * limit windows. Returns a stop function.
 */
export function startApprovalExpiry(svc: Services, intervalMs: number): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      for (const r of await svc.registry.expire(svc.now())) {
        bump(svc.counters.approvals, 'expiry:expired');
        denyDevice(svc, r.userId, r.deviceId, r.requestId, 'expired');
      }
      await svc.rateLimit.prune(svc.now() - 86_400_000);
    } catch (err) {
      svc.log.warn('approval expiry failed', { err });
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
