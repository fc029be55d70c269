import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { bump } from '../metrics/relay-counters.ts';
import { listenHttp } from '../util/http-listen.ts';
import { TimeoutError } from '../util/with-timeout.ts';
import { runAdminAction, type AdminAnswer, type AdminDeps } from './admin-actions.ts';
import { adminTokenCheck } from './admin-auth.ts';
import { matchAdminRoute } from './admin-routes.ts';

const BODY_MAX = 4096;

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The admin API on its own listener (ADMIN_HOST:ADMIN_PORT): JSON over
 * HTTP, every request with `Authorization: Bearer <ADMIN_TOKEN>`. Every
 * request is logged and counted (relay_admin_requests_total, by action and
 * outcome), refusals too; nothing a device sent is ever in an answer.
 */
export async function startAdminServer(d: AdminDeps, token: string, host: string, port: number): Promise<AdminServer> {
  const authorized = adminTokenCheck(token);
  const counts = d.svc.counters.admin;
  const handle = async (req: IncomingMessage): Promise<{ action: string; answer: AdminAnswer; ids: Record<string, string> }> => {
    const match = matchAdminRoute(req.method ?? '', (req.url ?? '').split('?')[0]!);
    const action = match.kind === 'ok' ? match.request.action : 'none';
    const ids = match.kind === 'ok' ? { user: match.request.user, ...('device' in match.request ? { device: match.request.device } : {}) } : {};
    const answer = (a: AdminAnswer) => ({ action, answer: a, ids });
    // The token is checked before anything else is said about the request, even whether its route exists.
    if (!authorized(req.headers.authorization)) return answer({ status: 401, outcome: 'unauthorized', body: { error: 'unauthorized', message: 'send Authorization: Bearer <ADMIN_TOKEN>' } });
    if (match.kind === 'not_found') return answer({ status: 404, outcome: 'not_found', body: { error: 'not_found', message: 'no such admin route' } });
    if (match.kind === 'method_not_allowed') return answer({ status: 405, outcome: 'method_not_allowed', body: { error: 'method_not_allowed', message: `use ${match.allow.join(' or ')}` } });
    if (match.kind === 'bad_id') return answer({ status: 400, outcome: 'bad_id', body: { error: 'bad_id', message: 'a user or device id breaks the id rule' } });
    try {
      const body = await readBody(req);
      if (body === undefined) return answer({ status: 400, outcome: 'bad_body', body: { error: 'bad_body', message: `the body must be a JSON object of at most ${BODY_MAX} bytes` } });
      return answer(await runAdminAction(d, match.request, body));
    } catch (err) {
      const slow = err instanceof TimeoutError;
      d.log.error('admin action failed', { err, action, ...ids });
      return answer({ status: 503, outcome: slow ? 'timeout' : 'failed', body: { error: 'unavailable', message: 'the database or Redis did not answer; try again' } });
    }
  };
  const server = createServer((req, res: ServerResponse) => {
    const started = performance.now();
    // handle() never rejects: every failure past the checks is answered 503 (a request aborted mid-body included).
    void handle(req).then(({ action, answer, ids }) => {
      bump(counts, `${action}:${answer.outcome}`);
      const fields = { action, outcome: answer.outcome, status: answer.status, ...ids, remote: req.socket.remoteAddress, ms: Math.round(performance.now() - started) };
      if (answer.status === 401) d.log.warn('admin request refused', fields);
      else d.log.info('admin action', fields);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (answer.status === 401) headers['www-authenticate'] = 'Bearer';
      res.writeHead(answer.status, headers).end(`${JSON.stringify(answer.body)}\n`);
    });
  });
  return listenHttp(server, host, port);
}

/** The request's JSON object body ({} when empty), or undefined when it is too large or not an object. */
async function readBody(req: IncomingMessage): Promise<{ promote?: string } | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_MAX) return undefined;
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const promote = (v as Record<string, unknown>)['promote'];
    if (promote !== undefined && typeof promote !== 'string') return undefined;
    return promote === undefined ? {} : { promote };
  } catch {
    return undefined;
  }
}
