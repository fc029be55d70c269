import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createTokenVerifier } from './auth/token-verifier.ts';
import { CallRegistry } from './calls/call-registry.ts';
import { ConfigError, loadConfig, type Config } from './config/config.ts';
import { resolveJwtKey } from './config/jwt-key.ts';
import { redisTargetOf } from './config/redis-target.ts';
import { openDatabase } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { DeliveryService } from './delivery/delivery-service.ts';
import { PostgresQueueStore } from './delivery/postgres-queue-store.ts';
import { ReceivedLog } from './delivery/received-log.ts';
import { RecentSends } from './delivery/recent-sends.ts';
import { startSweeper } from './delivery/sweeper.ts';
import { generateCode } from './devices/approval-code.ts';
import { DeviceDirectory } from './devices/device-directory.ts';
import { DeviceLists } from './devices/device-lists.ts';
import { DeviceRegistry, registryOptions } from './devices/device-registry.ts';
import { loadSignatureVerifier } from './devices/signature-verifier.ts';
import { OverloadGate, shedRule } from './limits/overload-gate.ts';
import { rateRules } from './limits/session-limits.ts';
import { UserConnections } from './limits/user-connections.ts';
import { StoredRateLimit } from './limits/stored-rate-limit.ts';
import { startApprovalExpiry } from './session/approval-expiry.ts';
import { CloseCode, closeReason } from './protocol/close-codes.ts';
import { closeInStages } from './session/staged-close.ts';
import { BROADCAST, nodeTopic } from './bus/bus.ts';
import { openBus } from './bus/open-bus.ts';
import { BacklogResync } from './session/backlog-resync.ts';
import { handleClusterMessage } from './session/cluster-events.ts';
import { ExpiryWheel } from './session/expiry-wheel.ts';
import { sendTyping } from './session/handlers/typing.ts';
import { TypingTracker } from './session/typing-tracker.ts';
import { applyDeviceStatus, broadcastDevices, remindPending } from './session/handlers/devices.ts';
import { RevocationSweep } from './session/revocation-sweep.ts';
import { Hub } from './session/hub.ts';
import { PresenceService } from './session/presence-service.ts';
import { ContactStore } from './presence/contact-store.ts';
import { openPush } from './push/open-push.ts';
import { AdminStore } from './admin/admin-store.ts';
import { startAdminServer } from './admin/admin-server.ts';
import { resolveAdminToken } from './config/admin-token.ts';
import { metricsRegistry } from './metrics/metrics-registry.ts';
import { startMetricsServer } from './metrics/metrics-server.ts';
import { newRelayCounters } from './metrics/relay-counters.ts';
import { openLeaseStore } from './presence/open-lease-store.ts';
import type { Services } from './session/services.ts';
import type { Session } from './session/session.ts';
import { startServer } from './transport/server.ts';
import { loadNativeUws } from './transport/uws.ts';
import { tuneGarbageCollector } from './util/gc-tuning.ts';
import { createLogger } from './util/logger.ts';
import { withTimeout } from './util/with-timeout.ts';
import { runWorkers } from './workers/supervisor.ts';

/**
 * Composition root: configuration, then the database and its schema, then
 * the services, then the socket server. SIGTERM drains: stop accepting,
 * close every socket with 1001, commit what is queued, close the database.
 */
async function main(): Promise<void> {
  tuneGarbageCollector();
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const nodeId = config.NODE_ID ?? `${hostname()}-${process.pid}`;
  const log = createLogger(config.LOG_LEVEL, { node: nodeId });
  if (config.WORKERS > 1) return runWorkers(config, nodeId, log);
  const uws = loadNativeUws();
  const now = () => Date.now();

  const jwt = resolveJwtKey(config);
  if (jwt.generatedAt) log.warn('no JWT key configured: using a generated development secret; do not use this in production', { file: jwt.generatedAt });
  const verifier = await createTokenVerifier({ key: jwt.key, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });

  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, timeoutMs: config.DB_TIMEOUT_MS, poolSize: config.DB_POOL_SIZE });
  const { applied } = await migrateToLatest(database.db);
  if (applied.length > 0) log.info('migrations applied', { applied });

  const bus = await openBus(config, nodeId, log);
  const store = new PostgresQueueStore(database.db, config.DB_TIMEOUT_MS);
  const counters = newRelayCounters();
  const devices = new DeviceDirectory(database.db, config.DB_TIMEOUT_MS, now, undefined, undefined, config.MAX_UNREGISTERED_DEVICES_PER_USER);
  const verifySignature = await loadSignatureVerifier();
  const registry = new DeviceRegistry(
    database.db,
    registryOptions(config),
    verifySignature,
    () => `req_${randomBytes(16).toString('hex')}`,
    () => generateCode(),
  );
  const hub = new Hub({ join: (user) => bus.subscribe(user), leave: (user) => bus.unsubscribe(user) });
  const delivery = new DeliveryService({
    store,
    bus,
    local: hub,
    log,
    now,
    writer: {
      batchMax: config.WRITE_BATCH_MAX,
      queueMax: config.WRITE_QUEUE_MAX,
      delayMs: config.WRITE_DELAY_MS,
      observeBatch: (ops, seconds) => {
        counters.batchOps.observe(ops);
        counters.commitSeconds.observe(seconds);
      },
    },
    // Both are made below; neither is called before the first connection.
    committed: (entries) => push.dispatcher.note(entries),
    callSignal: (user, device, signal) => svc.calls.onSignal(user, device, signal),
  });
  const router = delivery.router;
  const contacts = new ContactStore(database.db, config.DB_TIMEOUT_MS);
  const timing = { ttlMs: config.PRESENCE_TTL_SECONDS * 1000, graceMs: config.PRESENCE_GRACE_SECONDS * 1000 };
  const presenceStore = openLeaseStore(config, '', timing);
  // Connection leases end at once on close: the cap counts open sockets, not recent ones.
  const connectionLeases = openLeaseStore(config, 'conns', { ttlMs: timing.ttlMs, graceMs: 0 });
  const userConnections = new UserConnections({ leases: connectionLeases, cap: config.MAX_CONNECTIONS_PER_USER, nodeId, now, ttlMs: timing.ttlMs, log });
  const presence = new PresenceService({
    presence: presenceStore,
    contacts,
    router,
    hub,
    log,
    now,
    nodeId,
    deviceType: (user, device) => devices.typeOf(user, device),
    ttlMs: timing.ttlMs,
    reapIntervalMs: config.PRESENCE_REAP_MS,
  });
  const push = openPush({
    config,
    db: database.db,
    log,
    now,
    isLocal: (user, device) => router.isOnline(user, device),
    // Connection leases end at once on close, on every node: the dispatcher's view of who is connected anywhere.
    liveDevices: (user, at) => connectionLeases.liveDevices(user, at),
  });
  const svc: Services = {
    config,
    log,
    now,
    hub,
    bus,
    delivery,
    router,
    store,
    devices,
    registry,
    deviceLists: new DeviceLists(database.db, verifySignature, config.DB_TIMEOUT_MS),
    rateLimit: new StoredRateLimit(database.db, config.DB_TIMEOUT_MS),
    rates: rateRules(config),
    recent: new RecentSends(now),
    expiry: new ExpiryWheel<Session>(now),
    verifier,
    received: new ReceivedLog(config.RECEIVED_MEMORY),
    overload: new OverloadGate(shedRule(config), () => performance.now(), log),
    calls: new CallRegistry(now),
    typing: new TypingTracker({ now, ttlMs: config.TYPING_TTL_SECONDS * 1000, stopped: (signal) => sendTyping(svc, signal, false) }),
    contacts,
    presenceStore,
    presence,
    push,
    counters,
  };
  bus.subscribe(BROADCAST);
  bus.subscribe(nodeTopic(nodeId));
  bus.onMessage((topic, msg) => handleClusterMessage(svc, topic, msg));
  // After a bus outage, devices re-read their queues: 500 probed per query, 16 re-reads at a time.
  const resync = new BacklogResync({ sessions: () => hub.all(), store, log, chunk: 500, concurrency: 16 });
  // The backstop for a revocation whose bus event never arrived: every connected device's status, re-read.
  const revocations = new RevocationSweep<Session>({
    sessions: () => hub.all(),
    statuses: (list) => registry.statuses(list),
    apply: (s, status) => {
      applyDeviceStatus(svc, s.userId, s.deviceId, { status, reason: `device ${status}` });
      // A revocation the sweep found may have been an operator's, with no event of its own: the user's
      // other devices get the new list (and a promoted primary learns that it is one, and signs it).
      svc.devices.invalidate(s.userId);
      broadcastDevices(s.userId, svc).catch((err: unknown) => log.warn('device list after a swept revocation not sent', { err }));
    },
    log,
    chunk: 500,
  });
  // A loss learnt holds live delivery at once; the re-read it asks for is the resync's pass.
  bus.onLoss(() => resync.hold());
  bus.onResync(() => {
    void revocations.request();
    presence.resync();
  });
  presence.start();
  svc.expiry.start();
  svc.typing.start();
  userConnections.start();
  svc.overload.start();
  push.dispatcher.start();

  const server = await startServer({
    uws,
    host: config.HOST,
    port: config.PORT,
    verifier,
    svc,
    sessionDeps: {
      delivery,
      log,
      now,
      inflightMax: config.INFLIGHT_MAX,
      inflightMaxBytes: config.MAX_INFLIGHT_BYTES,
      drainPageSize: config.DRAIN_PAGE_SIZE,
      bufferedHighWater: Math.floor(config.MAX_BACKPRESSURE_BYTES / 2),
      slowConsumerMs: config.SLOW_CONSUMER_SECONDS * 1000,
      listening: (user) => bus.listening(user),
    },
    admit: (p) => devices.touch(p.userId, p.deviceId),
    userConnections,
    onPendingOpen: (s) => void remindPending(s, svc).catch((err: unknown) => log.warn('pending reminder failed', { err })),
  });
  const stopExpiry = startApprovalExpiry(svc, config.APPROVAL_SWEEP_SECONDS * 1000);
  revocations.start(config.REVOCATION_SWEEP_SECONDS * 1000);
  const sweeper = startSweeper({
    store,
    log,
    now,
    retentionMs: config.RETENTION_DAYS * 86_400_000,
    intervalMs: config.SWEEP_INTERVAL_SECONDS * 1000,
    unregistered: { prune: (cutoff) => devices.pruneUnregistered(cutoff), ttlMs: config.UNREGISTERED_TTL_HOURS * 3_600_000 },
  });
  const metrics = await startMetricsServer(metricsRegistry(svc, { resync }), config.METRICS_HOST, config.METRICS_PORT, log);
  const adminToken = resolveAdminToken(config);
  if (adminToken.generatedAt) log.warn('no ADMIN_TOKEN configured: the admin API uses a generated development token', { file: adminToken.generatedAt });
  else if (!adminToken.token) log.info('admin API off: set ADMIN_TOKEN to turn it on');
  const admin = adminToken.token
    ? await startAdminServer(
        { svc, store: new AdminStore(database.db, config.DB_TIMEOUT_MS), liveDevices: (user, at) => connectionLeases.liveDevices(user, at), log },
        adminToken.token,
        config.ADMIN_HOST,
        config.ADMIN_PORT,
      )
    : undefined;
  log.info('relay listening', {
    host: config.HOST,
    port: server.port,
    metrics_port: metrics.port,
    admin_port: admin?.port ?? null,
    url: `ws://${config.HOST}:${server.port}/ws`,
    database: database.kind,
    where: database.where,
    bus: { single: 'redis', cluster: 'redis cluster (sharded pub/sub)', none: 'memory (single node)' }[redisTargetOf(config)?.kind ?? 'none'],
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // SIGTERM (an orchestrator) drains in stages; SIGINT (someone at a terminal) at once.
    const readyMs = signal === 'SIGTERM' ? config.DRAIN_READY_SECONDS * 1000 : 0;
    const drainMs = signal === 'SIGTERM' ? config.DRAIN_SECONDS * 1000 : 0;
    log.info('draining', { signal, connections: server.connections, ready_ms: readyMs, drain_ms: drainMs });
    const limitMs = readyMs + drainMs + config.SHUTDOWN_TIMEOUT_MS;
    const hardStop = setTimeout(() => {
      log.error('drain timed out; exiting', { timeoutMs: limitMs });
      process.exit(1);
    }, limitMs);
    hardStop.unref();
    // 1. Not ready: the balancer stops sending new connections while this node still serves.
    server.markNotReady();
    if (readyMs > 0) await new Promise((r) => setTimeout(r, readyMs));
    // 2. No new sockets; the open ones close with 1001 spread over the drain window.
    server.stopAccepting();
    // Closed sockets leave the hub, so take the sessions first: their running handlers must finish
    // (and enqueue what they store) before the queue is flushed and the database closed.
    const sessions = [...svc.hub.all()];
    await closeInStages(sessions, drainMs, (s) => s.close(CloseCode.goingAway, closeReason[CloseCode.goingAway]));
    // 3. Everything still queued is written.
    sweeper.stop();
    stopExpiry();
    revocations.stop();
    svc.expiry.stop();
    svc.typing.stop();
    svc.overload.stop();
    presence.stop();
    push.dispatcher.stop();
    userConnections.stop();
    await withTimeout(Promise.all(sessions.map((s) => s.handlersDone())), config.SHUTDOWN_TIMEOUT_MS, 'frame handlers');
    await withTimeout(delivery.idle(), config.SHUTDOWN_TIMEOUT_MS, 'write queue flush');
    await database.close();
    await metrics.close();
    await admin?.close();
    await bus.close();
    await presenceStore.close();
    await connectionLeases.close();
    log.info('stopped', { signal });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`relay failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
