import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * `--push`: a local webhook endpoint that answers 200 to every push, and
 * the environment that points the relay at it and makes every relay
 * device in the load register a webhook token after it is approved. The
 * servers and the generators inherit the runner's environment.
 */
export async function enablePush(): Promise<{ pushes: () => number; close(): void }> {
  let pushes = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      pushes++;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  process.env['PUSH_WEBHOOK_URL'] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/wake`;
  process.env['PUSH_WEBHOOK_SECRET'] = 'bench-webhook-secret-0123456789abcdef';
  process.env['BENCH_PUSH_TOKENS'] = '1';
  return { pushes: () => pushes, close: () => server.close() };
}
