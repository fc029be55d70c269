import { z } from 'zod';
import { limitsTable } from '../limits/limits-table.ts';
import { parseTrustedProxies } from '../transport/client-address.ts';
import { checkedList, commaList, emptyAsUndefined, int, optionalString } from './env-fields.ts';
import { checkPushConfig, pushConfigFields } from './push-config.ts';
import { parseClusterNodes } from './redis-target.ts';

/**
 * The relay's whole configuration, read once from the environment at boot.
 * A bad value stops the relay with a message that names the variable, so a
 * typo in a deployment fails loudly instead of running on a default.
 */

/** The hot-path limits, one entry per row of the limits table (src/limits/limits-table.ts). */
const limitEntries = Object.fromEntries(Object.values(limitsTable).map((l) => [l.env, z.preprocess(emptyAsUndefined, z.coerce.number().min(l.min).max(l.max).default(l.default))])) as unknown as {
  [K in (typeof limitsTable)[keyof typeof limitsTable]['env']]: z.ZodType<number, unknown>;
};

export const configSchema = z
  .object({
    ...limitEntries,
    ...pushConfigFields,
    // 3000 is the conventional development port; PORT=0 asks the OS for a free one (tests).
    PORT: int(3000, 0, 65535),
    // Listen on every interface by default: the relay is meant to sit behind a load balancer.
    HOST: z.preprocess(emptyAsUndefined, z.string().default('0.0.0.0')),
    // Absent: embedded PGlite under DATA_DIR, a single-node setup that needs no server.
    DATABASE_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^postgres(ql)?$/ }).optional()),
    // Absent: in-memory bus and presence, which only makes sense for one node.
    REDIS_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^rediss?$/ }).optional()),
    // Instead of REDIS_URL: some masters of a Redis Cluster (host:port or redis[s]:// URLs, comma-separated).
    REDIS_CLUSTER_NODES: z.preprocess(emptyAsUndefined, checkedList(parseClusterNodes).optional()),
    // Exactly one key source may be set; none means a generated development secret.
    JWT_SECRET: z.preprocess(emptyAsUndefined, z.string().min(32, 'must be at least 32 characters').optional()),
    JWT_PUBLIC_KEY: optionalString,
    JWT_JWKS_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: optionalString,
    // Every Redis key and channel starts with this, so deployments (and test runs) can share a server.
    REDIS_PREFIX: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .regex(/^[A-Za-z0-9_:-]{1,64}$/)
        .default('relay'),
    ),
    // Relay processes on this host, all on PORT (SO_REUSEPORT), each a cluster node: needs Postgres and Redis.
    WORKERS: int(1, 1, 64),
    // Bound on any Redis command: the hot path never waits on Redis longer than this.
    REDIS_TIMEOUT_MS: int(1000, 50, 60_000),
    // A connection's presence lease lasts this long unless refreshed (every third of it); a dead node's users go offline within it.
    PRESENCE_TTL_SECONDS: int(30, 3, 3600),
    // A disconnect keeps the lease this long, so a quick reconnect shows no offline/online flap.
    PRESENCE_GRACE_SECONDS: int(5, 0, 600),
    // How often each node looks for expired leases.
    PRESENCE_REAP_MS: int(1000, 100, 60_000),
    // A typing indicator with no update for this long reaches its recipient as stopped (a typer that vanished mid-word).
    TYPING_TTL_SECONDS: int(10, 1, 600),
    DATA_DIR: z.preprocess(emptyAsUndefined, z.string().default('./data')),
    // Shown to other nodes and in logs; defaults to host name and pid so two local nodes differ.
    NODE_ID: optionalString,
    NODE_ENV: optionalString,
    LOG_LEVEL: z.preprocess(emptyAsUndefined, z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info')),
    // Undelivered messages older than this are removed by the sweeper (30 days, as most messengers keep them).
    RETENTION_DAYS: int(30, 1, 3650),
    // How often the sweeper runs; an hour keeps the delete batches small.
    SWEEP_INTERVAL_SECONDS: int(3600, 1, 86_400),
    // A device row that never registered is removed after this long unseen; it holds nothing but its id.
    UNREGISTERED_TTL_HOURS: int(24, 1, 8760),
    // Upper bound on any single Postgres round trip; a stuck database must not stall the hot path forever.
    DB_TIMEOUT_MS: int(5000, 100, 120_000),
    // Connections in the pg pool: the group-commit writer needs one, drains and lookups the rest.
    DB_POOL_SIZE: int(10, 2, 200),
    // Largest number of queue operations committed in one transaction by the group-commit writer.
    WRITE_BATCH_MAX: int(1000, 1, 50_000),
    // How long a stored message that a device may ack waits before its batch is written: an ack within
    // this window cancels the write, so the message never touches the database. A sent_ack waits for the
    // ack or the commit, whichever is first. A message for a device connected nowhere is written at once
    // (a single node knows that; a cluster node, once Redis says no other node holds the recipient user).
    // 250 ms: on loopback at saturation acks came back 10 to 50 ms after their sends, but
    // between two nodes sharing a core they took longer, and with 50 ms nearly every cross-node message
    // was written (2.9 writes per message against 0.06 with 250 ms, 9.4k against 14.3k msg/s in the
    // cross-node bench). Devices on mobile networks ack later still.
    WRITE_DELAY_MS: int(250, 0, 1000),
    // Queued writes beyond this are refused with `overloaded`, so memory stays bounded when Postgres is slow.
    WRITE_QUEUE_MAX: int(100_000, 100, 10_000_000),
    // Deliveries a device may hold unacknowledged before the relay stops pushing and waits for acks.
    INFLIGHT_MAX: int(1000, 10, 100_000),
    // Rows read per backlog page on connect.
    DRAIN_PAGE_SIZE: int(200, 1, 10_000),
    // Browser origins allowed to connect, exact match, comma-separated; unset allows any (native apps send none).
    ALLOWED_ORIGINS: z.preprocess(emptyAsUndefined, commaList.optional()),
    // The cookie that may carry the token, read only from a browser whose Origin is in ALLOWED_ORIGINS.
    TOKEN_COOKIE: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/, 'a cookie name')
        .default('relay_token'),
    ),
    // Proxies (CIDRs or addresses, comma-separated) whose Forwarded / X-Forwarded-For headers name the client; unset trusts none.
    TRUSTED_PROXIES: z.preprocess(emptyAsUndefined, checkedList(parseTrustedProxies).default([])),
    // Prometheus metrics (GET /metrics) on their own listener, never the public one; 0 picks a free port.
    METRICS_HOST: z.preprocess(emptyAsUndefined, z.string().default('127.0.0.1')),
    METRICS_PORT: int(9091, 0, 65535),
    // The operator's admin API (docs/operations.md), on its own listener too. A bearer token, never a client JWT;
    // without one it is off in production and uses a generated development token elsewhere.
    ADMIN_HOST: z.preprocess(emptyAsUndefined, z.string().default('127.0.0.1')),
    ADMIN_PORT: int(9092, 0, 65535),
    ADMIN_TOKEN: z.preprocess(emptyAsUndefined, z.string().min(32, 'must be at least 32 characters').optional()),
    // Seconds of silence before uWebSockets.js closes a socket; it sends pings well before that.
    IDLE_TIMEOUT_SECONDS: int(120, 8, 960),
    // Bytes buffered for a slow reader before the relay gives up on the socket.
    MAX_BACKPRESSURE_BYTES: int(1024 * 1024, 16 * 1024, 256 * 1024 * 1024),
    // Approved devices per user, primary included (Signal and WhatsApp allow a handful of linked devices).
    MAX_DEVICES_PER_USER: int(6, 1, 100),
    // How long a new device's approval code is valid.
    APPROVAL_TTL_SECONDS: int(600, 5, 86_400),
    // How often expired approval requests are looked for.
    APPROVAL_SWEEP_SECONDS: int(5, 1, 3600),
    // How often each node re-reads the status of its connected devices: a revocation whose bus event was lost ends within this.
    REVOCATION_SWEEP_SECONDS: int(30, 1, 3600),
    // On SIGTERM, /readyz answers 503 this long before any socket closes, so the balancer stops sending new ones.
    DRAIN_READY_SECONDS: int(5, 0, 600),
    // Then the sockets close with 1001 spread over this window, so their reconnects reach the other nodes spread too.
    DRAIN_SECONDS: int(10, 0, 3600),
    // How long the last steps of a drain (running handlers, the write queue) may take before the process exits anyway.
    SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 600_000),
  })
  .superRefine((c, ctx) => {
    // Delivery pauses at half the limit, so the largest frame must fit in the other half with room for its envelope.
    if (c.MAX_BACKPRESSURE_BYTES < 2 * (c.MAX_FRAME_BYTES + 8 * 1024)) {
      ctx.addIssue({
        code: 'custom',
        path: ['MAX_BACKPRESSURE_BYTES'],
        message: `must be at least 2 x (MAX_FRAME_BYTES + 8192) = ${2 * (c.MAX_FRAME_BYTES + 8 * 1024)}, so that the largest frame fits above the point where delivery pauses`,
      });
    }
    const sources = [c.JWT_SECRET, c.JWT_PUBLIC_KEY, c.JWT_JWKS_URL].filter((v) => v !== undefined);
    if (sources.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message: 'set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL',
      });
    }
    if (c.WORKERS > 1 && (!c.DATABASE_URL || !(c.REDIS_URL || c.REDIS_CLUSTER_NODES) || c.PORT === 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['WORKERS'],
        message: 'several workers are several cluster nodes: they need DATABASE_URL, REDIS_URL or REDIS_CLUSTER_NODES, and a PORT other than 0',
      });
    }
    if (c.REDIS_URL && c.REDIS_CLUSTER_NODES) {
      ctx.addIssue({ code: 'custom', path: ['REDIS_CLUSTER_NODES'], message: 'set REDIS_URL or REDIS_CLUSTER_NODES, not both' });
    }
    checkPushConfig(c, ctx);
  });

export type Config = Readonly<z.infer<typeof configSchema>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment; throws a ConfigError that names every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}
