/**
 * `herald serve --health-port`: liveness and readiness over HTTP for the Kafka-protocol server,
 * answered by `healthAnswer` from `@herald/bus` (`/live`, `/ready`, `/health`). Live while the
 * process runs; ready while the server listens and its broker is open, and no longer once a
 * shutdown began, so a load balancer stops sending clients before connections close.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HealthVerdict, healthAnswer } from '@herald/bus';

/** A slow or idle probe connection is dropped after this. */
const REQUEST_TIMEOUT_MS = 10_000;

/** The running endpoint. */
export interface HealthEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on `host:port` and answers from `report()` until `close()`. */
export async function startHealthEndpoint(
  host: string,
  port: number,
  report: () => HealthVerdict,
): Promise<HealthEndpoint> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const reply =
      request.method === 'GET' || request.method === 'HEAD' ? healthAnswer(path, report()) : undefined;
    const { status, contentType, body } = reply ?? {
      status: 404,
      contentType: 'text/plain; charset=utf-8',
      body: 'GET /live, /ready or /health\n',
    };
    response.writeHead(status, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
