import type { HttpResponse, us_listen_socket, WebSocket } from 'uWebSockets.js';
import { extractToken } from '../auth/token-extract.ts';
import type { Principal, TokenVerifier } from '../auth/token-verifier.ts';
import { ConnectionGate } from '../limits/connection-gate.ts';
import type { UserConnections } from '../limits/user-connections.ts';
import { withTimeout } from '../util/with-timeout.ts';
import type { DeviceStatus } from '../db/schema.ts';
import type { TouchResult } from '../devices/touch-batcher.ts';
import { isFinal } from '../devices/approval-rules.ts';
import { CloseCode, closeReason } from '../protocol/close-codes.ts';
import { encodeError } from '../protocol/server-frames.ts';
import { dispatch, onPong } from '../session/dispatch.ts';
import { endCallsOfDevice } from '../session/handlers/call.ts';
import { startApproved } from '../session/handlers/devices.ts';
import { Session, type SessionDeps } from '../session/session.ts';
import { isoNow, type Services } from '../session/services.ts';
import type { Uws } from './uws.ts';
import { SendCoalescer } from './send-coalescer.ts';
import { UwsConnection } from './uws-connection.ts';
import { clientAddress, limitKey, parseTrustedProxies } from './client-address.ts';
import { bump } from '../metrics/relay-counters.ts';

interface SocketData {
  principal: Principal;
  status: DeviceStatus;
  /** The client's address (through trusted proxies), shown with approval requests. */
  ip: string;
  /** What per-address limits count it under (its /64 for IPv6). */
  ipKey: string;
  userAgent: string;
  session: Session | undefined;
  conn: UwsConnection<SocketData> | undefined;
}

export interface ServerOptions {
  uws: Uws;
  host: string;
  port: number;
  verifier: TokenVerifier;
  svc: Services;
  sessionDeps: SessionDeps;
  /** Runs after a token verifies and before the 101: records the device and returns its status; a failure answers 503. */
  admit: (p: Principal) => Promise<TouchResult>;
  /** The cluster-wide per-user connection cap. */
  userConnections: UserConnections;
  /** Called for a connecting device that is waiting for approval, after its socket opened. */
  onPendingOpen: (s: Session) => void;
}

export interface RelayServer {
  readonly port: number;
  /** `/readyz` answers 503 from now on; the listener stays open, so a balancer can notice before sockets go. */
  markNotReady(): void;
  /** Stops listening; open sockets stay. */
  stopAccepting(): void;
  readonly connections: number;
}

/**
 * Decodes text frames (uWS has checked they are valid UTF-8). Straight from
 * the ArrayBuffer: 75-80 ns for a 450-byte send, against 120-145 ns through
 * a Buffer made around it first (same text).
 */
const utf8 = new TextDecoder();

const statusText: Record<number, string> = { 401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found', 429: '429 Too Many Requests', 503: '503 Service Unavailable' };

/**
 * The HTTP and WebSocket face of the relay. The upgrade is asynchronous
 * (token verification, device record): every header is copied before the
 * first await, and `onAborted` marks a client that left so that nothing is
 * written to a response that no longer exists.
 */
export function startServer(opts: ServerOptions): Promise<RelayServer> {
  const { uws, svc } = opts;
  const { config, log, hub } = svc;
  const app = uws.App();
  let accepting = true;
  let ready = true;
  const coalescer = new SendCoalescer((err) => log.error('socket flush failed', { err }));
  const gate = new ConnectionGate({
    perIp: config.MAX_CONNECTIONS_PER_IP,
    attempts: { burst: config.RATE_CONNECTS_PER_IP_BURST, ratePerSecond: config.RATE_CONNECTS_PER_IP_PER_SECOND },
  });
  const sweep = setInterval(() => gate.sweep(svc.now()), 60_000);
  sweep.unref();
  const origins = config.ALLOWED_ORIGINS ? new Set(config.ALLOWED_ORIGINS) : undefined;
  const trusted = parseTrustedProxies(config.TRUSTED_PROXIES);

  const refuse = (res: HttpResponse, status: number, body: string, retryAfterSeconds?: number): void => {
    res.cork(() => {
      res.writeStatus(statusText[status] ?? `${status}`).writeHeader('content-type', 'text/plain');
      if (retryAfterSeconds !== undefined) res.writeHeader('retry-after', String(retryAfterSeconds));
      res.end(body);
    });
  };

  /** A refused upgrade, counted by status for the metrics. */
  const refuseUpgrade = (res: HttpResponse, status: number, body: string, retryAfterSeconds?: number): void => {
    bump(svc.counters.upgradesRefused, status);
    refuse(res, status, body, retryAfterSeconds);
  };

  app.ws<SocketData>('/ws', {
    // The hard cap: uWebSockets.js drops the connection past it without reading the frame.
    maxPayloadLength: config.MAX_FRAME_BYTES * 4,
    idleTimeout: config.IDLE_TIMEOUT_SECONDS,
    sendPingsAutomatically: true,
    maxBackpressure: config.MAX_BACKPRESSURE_BYTES,
    closeOnBackpressureLimit: 1,
    compression: uws.DISABLED,

    upgrade: (res, req, context) => {
      const creds = { authorization: req.getHeader('authorization'), protocol: req.getHeader('sec-websocket-protocol'), query: req.getQuery() ?? '', cookie: req.getHeader('cookie') };
      const key = req.getHeader('sec-websocket-key');
      const userAgent = req.getHeader('user-agent').slice(0, 256);
      const origin = req.getHeader('origin');
      const ip = clientAddress(Buffer.from(res.getRemoteAddressAsText()).toString(), { forwarded: req.getHeader('forwarded'), xForwardedFor: req.getHeader('x-forwarded-for') }, trusted);
      const ipKey = limitKey(ip);
      const extensions = req.getHeader('sec-websocket-extensions');
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      if (!accepting) return refuseUpgrade(res, 503, 'shutting down');
      // An overloaded node turns away the same share of new connections as of new messages, before any work on them.
      if (!svc.overload.admitUpgrade()) return refuseUpgrade(res, 503, 'overloaded', 5);
      // Browsers send Origin; native apps do not. When an allow-list is set, a browser page from elsewhere is refused.
      if (origins && origin && !origins.has(origin)) return refuseUpgrade(res, 403, 'origin not allowed');
      const verdict = gate.attempt(ipKey, svc.now());
      if (verdict !== 'ok') return refuseUpgrade(res, 429, verdict === 'too_many_attempts' ? 'too many connection attempts' : 'too many connections from this address');
      const token = extractToken(creds, { maxBytes: config.MAX_TOKEN_BYTES, cookieName: config.TOKEN_COOKIE, originAllowed: origins?.has(origin) === true });
      if (!token.ok) return refuseUpgrade(res, 401, token.reason === 'cookie_without_allowed_origin' ? 'a token in a cookie needs an Origin listed in ALLOWED_ORIGINS' : `token ${token.reason}`);

      void (async () => {
        let verified: Awaited<ReturnType<TokenVerifier['verify']>>;
        let status: TouchResult;
        let underCap: boolean;
        try {
          // The whole asynchronous part of the upgrade has one deadline.
          [verified, status, underCap] = await withTimeout(
            (async () => {
              const v = await opts.verifier.verify(token.token);
              if (!v.ok) return [v, 'unregistered' as TouchResult, true] as const;
              const touched = await opts.admit(v.principal);
              if (touched === 'too_many_unregistered') return [v, touched, true] as const;
              return [v, touched, await opts.userConnections.admit(v.principal.userId, v.principal.deviceId)] as const;
            })(),
            config.AUTH_DEADLINE_MS,
            'upgrade',
          );
        } catch (err) {
          log.warn('upgrade refused: authentication or device record unavailable', { err });
          if (!aborted) refuseUpgrade(res, 503, 'authentication unavailable');
          return;
        }
        if (aborted) return;
        if (!verified.ok) return refuseUpgrade(res, 401, verified.expired ? 'token expired' : 'invalid token');
        if (status === 'too_many_unregistered') return refuseUpgrade(res, 429, 'too many unregistered devices for this user');
        if (!underCap) return refuseUpgrade(res, 429, 'too many connections for this user');
        // Denied and revoked are final: that device id never connects again.
        if (isFinal(status)) return refuseUpgrade(res, 403, `device ${status}`);
        const data: SocketData = { principal: verified.principal, status, ip, ipKey, userAgent, session: undefined, conn: undefined };
        // Not corked, on purpose: in this uWS build, cork() around an upgrade made after an await can
        // read the response state from memory the new WebSocket now owns (the socket is reallocated in
        // place) and close the fresh socket about a millisecond after `open` (uWebSockets PR 1929).
        // The price: uncorked, uWS sends the 101 in pieces, one send() each (24 without a subprotocol,
        // counted with strace). In one pair of connect-only storms the relay took 2.4k connects/s
        // corked against 1.8k, and its core was no longer the limit: worth having once the pinned
        // build carries that fix.
        res.upgrade(data, key, token.subprotocol ?? '', extensions, context);
      })().catch((err: unknown) => {
        log.error('upgrade failed', { err });
        if (!aborted) refuseUpgrade(res, 503, 'upgrade failed');
      });
    },

    open: (ws: WebSocket<SocketData>) => {
      const data = ws.getUserData();
      gate.opened(data.ipKey);
      if (hub.size >= config.MAX_CONNECTIONS) {
        // Over the node's cap: the client backs off and the balancer sends it elsewhere.
        ws.end(CloseCode.tryAgainLater, closeReason[CloseCode.tryAgainLater]);
        return;
      }
      const { userId, deviceId, expiresAt } = data.principal;
      const conn = new UwsConnection(ws, coalescer, config.MAX_BACKPRESSURE_BYTES);
      const session = new Session(userId, deviceId, expiresAt, data.status, { ip: data.ip, userAgent: data.userAgent }, svc.now(), conn, opts.sessionDeps);
      session.log.debug('socket opened');
      data.session = session;
      data.conn = conn;
      svc.expiry.add(session);
      conn.onFlushed = () => session.onSocketDrain();
      const previous = hub.register(session);
      opts.userConnections.opened(session, userId, deviceId);
      svc.push.dispatcher.connected(userId, deviceId);
      // One socket per device: the newest wins, the older one is told why it lost, on this node or any other.
      previous?.close(CloseCode.connectedElsewhere);
      svc.bus.publish(userId, { k: 'kick', device: deviceId, at: session.connectedAt, node: svc.bus.nodeId });
      // Work for the new socket starts on the next turn of the loop, outside the upgrade's call stack.
      // A device that is not approved gets nothing until the approval flow says so. The decision uses
      // the status read at upgrade: a frame handled before this turn (PGlite can answer within
      // microtasks) may already have registered the device and sent it its own answer.
      const openedAs = data.status;
      setImmediate(() => {
        if (openedAs === 'approved' && session.isApproved) startApproved(session, svc);
        else if (openedAs === 'pending' && session.status === 'pending') opts.onPendingOpen(session);
      });
    },

    message: (ws, message, isBinary) => {
      const session = ws.getUserData().session;
      if (!session) return;
      if (message.byteLength > config.MAX_FRAME_BYTES) return session.close(CloseCode.tooBig);
      if (isBinary) {
        session.reply(encodeError('invalid_frame', { message: 'frames are JSON text', timestamp: isoNow(svc) }));
        return;
      }
      // Copies out of uWebSockets.js's buffer, which is only valid until this callback returns.
      dispatch(session, utf8.decode(message), svc, message.byteLength);
    },

    drain: (ws) => ws.getUserData().session?.onSocketDrain(),

    pong: (ws) => {
      const session = ws.getUserData().session;
      if (session) onPong(session, svc);
    },

    close: (ws, code) => {
      const data = ws.getUserData();
      bump(svc.counters.closes, code);
      gate.closed(data.ipKey);
      log.debug('socket closed', { user: data.principal.userId, device: data.principal.deviceId, code });
      if (data.conn) data.conn.closed = true;
      const session = data.session;
      if (!session) return;
      session.onClose();
      svc.expiry.remove(session);
      opts.userConnections.closed(session);
      svc.presence.offline(session);
      svc.typing.left(session);
      if (hub.unregister(session)) endCallsOfDevice(session, svc);
    },
  });

  app.get('/healthz', (res) => {
    const w = svc.delivery.writerStats();
    const o = svc.overload.stats();
    const body = {
      status: 'ok',
      connections: hub.size,
      write_queue: w.depth,
      write_batches: w.batches,
      written_ops: w.committedOps,
      bus_publishes: svc.bus.stats().publishes,
      bus_published_bytes: svc.bus.stats().publishedBytes,
      shedding: Math.round(o.shedding * 1000) / 1000,
      loop_lag_ms: Math.round(o.loopLagMs),
      refused_frames: o.refusedFrames,
      refused_upgrades: o.refusedUpgrades,
      push: { ...svc.push.stats, queue: svc.push.dispatcher.size(), open_breakers: svc.push.dispatcher.openBreakers() },
    };
    res.cork(() => res.writeHeader('content-type', 'application/json').end(JSON.stringify(body)));
  });
  app.get('/readyz', (res) => {
    if (accepting && ready) res.cork(() => res.end('ready'));
    else refuse(res, 503, 'draining');
  });
  // The key browsers subscribe with (applicationServerKey); 404 when Web Push is off.
  app.get('/push/vapid-public-key', (res) => {
    const key = svc.push.vapidPublicKey;
    if (!key) return refuse(res, 404, 'web push is not configured');
    res.cork(() => res.writeHeader('content-type', 'text/plain').writeHeader('access-control-allow-origin', '*').end(key));
  });
  app.any('/*', (res) => refuse(res, 404, 'not found'));

  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (listenSocket: us_listen_socket | false) => {
      if (!listenSocket) return reject(new Error(`cannot listen on ${opts.host}:${opts.port}`));
      resolve({
        port: uws.us_socket_local_port(listenSocket),
        markNotReady() {
          ready = false;
        },
        stopAccepting() {
          if (!accepting) return;
          accepting = false;
          clearInterval(sweep);
          uws.us_listen_socket_close(listenSocket);
        },
        get connections() {
          return hub.size;
        },
      });
    });
  });
}
