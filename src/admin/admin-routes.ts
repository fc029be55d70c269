import { ID_MAX, idPattern } from '../protocol/fields.ts';

/**
 * The admin API's requests, as the server and the CLI both name them. Every
 * action is about one user, or one device of one user; ids follow the same
 * rule as on the wire.
 */
export type AdminRequest =
  | { action: 'list_devices'; user: string }
  | { action: 'kick_user'; user: string }
  | { action: 'kick_device'; user: string; device: string }
  | { action: 'revoke_device'; user: string; device: string }
  | { action: 'queue_stats'; user: string; device: string }
  | { action: 'purge_queue'; user: string; device: string };

export type AdminAction = AdminRequest['action'];

export const adminActions: readonly AdminAction[] = ['list_devices', 'kick_user', 'kick_device', 'revoke_device', 'queue_stats', 'purge_queue'];

/** Method and path of each action, `:user` and `:device` standing for the ids. */
export const adminRoutes: Record<AdminAction, { method: 'GET' | 'POST' | 'DELETE'; path: string }> = {
  list_devices: { method: 'GET', path: '/v1/users/:user/devices' },
  kick_user: { method: 'POST', path: '/v1/users/:user/kick' },
  kick_device: { method: 'POST', path: '/v1/users/:user/devices/:device/kick' },
  revoke_device: { method: 'POST', path: '/v1/users/:user/devices/:device/revoke' },
  queue_stats: { method: 'GET', path: '/v1/users/:user/devices/:device/queue' },
  purge_queue: { method: 'DELETE', path: '/v1/users/:user/devices/:device/queue' },
};

export type RouteMatch = { kind: 'ok'; request: AdminRequest } | { kind: 'not_found' } | { kind: 'method_not_allowed'; allow: string[] } | { kind: 'bad_id' };

const isId = (s: string): boolean => s.length >= 1 && s.length <= ID_MAX && idPattern.test(s);

/** Which action a method and path (without the query) ask for. */
export function matchAdminRoute(method: string, path: string): RouteMatch {
  const parts = path.split('/');
  const allow: string[] = [];
  for (const action of adminActions) {
    const route = adminRoutes[action];
    const pattern = route.path.split('/');
    if (pattern.length !== parts.length) continue;
    const ids: Record<string, string> = {};
    let same = true;
    for (let i = 0; i < pattern.length && same; i++) {
      const want = pattern[i]!;
      if (want.startsWith(':')) {
        let value: string;
        try {
          value = decodeURIComponent(parts[i]!);
        } catch {
          return { kind: 'bad_id' };
        }
        ids[want.slice(1)] = value;
      } else same = want === parts[i];
    }
    if (!same) continue;
    if (route.method !== method) {
      allow.push(route.method);
      continue;
    }
    if (!Object.values(ids).every(isId)) return { kind: 'bad_id' };
    return { kind: 'ok', request: { action, ...ids } as AdminRequest };
  }
  return allow.length > 0 ? { kind: 'method_not_allowed', allow } : { kind: 'not_found' };
}

/** The method and path that ask for `request` (the CLI's side of matchAdminRoute). */
export function adminRequestPath(request: AdminRequest): { method: string; path: string } {
  const route = adminRoutes[request.action];
  const path = route.path.replace(':user', encodeURIComponent(request.user)).replace(':device', 'device' in request ? encodeURIComponent(request.device) : '');
  return { method: route.method, path };
}
