import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { listenHttp } from '../util/http-listen.ts';
import type { Logger } from '../util/logger.ts';

/**
 * `GET /metrics` on its own listener (METRICS_HOST:METRICS_PORT), so that
 * the public port never serves it. Resolves with the port it listens on.
 */
export async function startMetricsServer(registry: Registry, host: string, port: number, log: Logger): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        log.error('metrics scrape failed', { err });
        res.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed');
      },
    );
  });
  return listenHttp(server, host, port);
}
