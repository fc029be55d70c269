/**
 * Decisions of the WORKERS supervisor (supervisor.ts), kept pure so they
 * are tested apart from processes.
 *
 * N workers are N relay processes on one host, each a node of the cluster
 * (its own NODE_ID, bus connection and presence leases), all listening on
 * the same PORT: the uWebSockets.js build sets SO_REUSEPORT, so the kernel
 * spreads new connections over them. Their metrics and admin listeners
 * cannot share a port usefully (a scrape would reach any one of them), so
 * worker i takes the configured port plus i.
 */
export function workerEnv(env: Readonly<Record<string, string | undefined>>, index: number, ports: { metrics: number; admin: number }, baseNodeId: string): Record<string, string | undefined> {
  const shifted = (port: number) => String(port === 0 ? 0 : port + index);
  return {
    ...env,
    WORKERS: '1',
    NODE_ID: `${baseNodeId}-w${index}`,
    METRICS_PORT: shifted(ports.metrics),
    ADMIN_PORT: shifted(ports.admin),
  };
}

/**
 * How long to wait before starting a worker again after it died: at once
 * the first time, then doubling per crash within the last minute, up to
 * 30 s, so a worker that cannot start does not spin.
 */
export function restartDelayMs(crashTimes: readonly number[], now: number): number {
  const recent = crashTimes.filter((t) => now - t < 60_000).length;
  return recent <= 1 ? 0 : Math.min(30_000, 500 * 2 ** (recent - 2));
}
