/**
 * Where the relay keeps what its nodes share in Redis (the bus, presence,
 * the per-user connection leases): one Redis server (REDIS_URL), or a
 * Redis Cluster (REDIS_CLUSTER_NODES, some of its masters; the client
 * learns the rest). Nothing above the connection code cares which: the
 * bus uses sharded pub/sub on a cluster, and every key a script or
 * transaction touches together sits under one hash tag, so one slot.
 */
export type RedisTarget = { kind: 'single'; url: string } | ClusterTarget;

export interface ClusterTarget {
  kind: 'cluster';
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  /** `rediss://` entries: TLS to every node. */
  tls: boolean;
}

/**
 * Reads REDIS_CLUSTER_NODES: comma-separated `host:port` or
 * `redis[s]://[user:password@]host:port` entries. Credentials, if any
 * entry carries them, hold for every node (a cluster has one ACL); the
 * entries must agree on TLS. Throws with the entry at fault.
 */
export function parseClusterNodes(entries: readonly string[]): ClusterTarget {
  if (entries.length === 0) throw new Error('lists no nodes');
  const target: ClusterTarget = { kind: 'cluster', nodes: [], tls: false };
  const schemes = new Set<string>();
  for (const entry of entries) {
    let url: URL;
    try {
      url = new URL(/^[a-z]+:\/\//i.test(entry) ? entry : `redis://${entry}`);
    } catch {
      throw new Error(`"${entry}" is neither host:port nor a redis:// URL`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`"${entry}": only redis:// and rediss:// are allowed`);
    if (!url.port) throw new Error(`"${entry}" has no port`);
    if (url.pathname !== '' && url.pathname !== '/') throw new Error(`"${entry}": a cluster has no database number`);
    schemes.add(url.protocol);
    target.nodes.push({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) });
    if (url.username) target.username = decodeURIComponent(url.username);
    if (url.password) target.password = decodeURIComponent(url.password);
  }
  if (schemes.size > 1) throw new Error('mixes redis:// and rediss:// entries');
  target.tls = schemes.has('rediss:');
  return target;
}

/** The configured target, or undefined for a single node on in-memory versions (neither variable set). */
export function redisTargetOf(c: { REDIS_URL?: string | undefined; REDIS_CLUSTER_NODES?: readonly string[] | undefined }): RedisTarget | undefined {
  if (c.REDIS_CLUSTER_NODES && c.REDIS_CLUSTER_NODES.length > 0) return parseClusterNodes(c.REDIS_CLUSTER_NODES);
  return c.REDIS_URL ? { kind: 'single', url: c.REDIS_URL } : undefined;
}
