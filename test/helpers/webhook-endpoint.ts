import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookRequest {
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export type WebhookMode = 'ok' | 'gone' | 'fail' | 'hang';

/**
 * A real HTTP server standing in for the operator's push service: it
 * records every request and answers 200, 410, 500, or never, as the test
 * sets `mode`.
 */
export async function startWebhookEndpoint(): Promise<{ url: string; requests: WebhookRequest[]; mode: WebhookMode; stop(): Promise<void> }> {
  const hung: ServerResponse[] = [];
  const state = {
    url: '',
    requests: [] as WebhookRequest[],
    mode: 'ok' as WebhookMode,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const res of hung) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      if (state.mode === 'hang') return void hung.push(res);
      res.statusCode = state.mode === 'ok' ? 200 : state.mode === 'gone' ? 410 : 500;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/wake`;
  return state;
}
