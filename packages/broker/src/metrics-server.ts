/**
 * A small HTTP server for Prometheus scrapes: `GET /metrics` answers a prom-client registry in the
 * text exposition format; everything else is 404. Used by `herald serve --metrics-port` and by
 * `serveMetrics()` from `herald` for an embedded bus's process.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { BrokerArgumentError } from './errors.ts';

/** Connections a metrics server keeps at once (Prometheus scrapes over one or two). */
export const METRICS_CONNECTIONS_MAX = 16;

/** Longest a scrape request may take to arrive and be answered (ms). */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** What `/metrics` serves. */
  readonly registry: Registry;
  /** TCP port (0 picks a free one; {@link MetricsServer.port} tells which). */
  readonly port: number;
  /** Interface to bind (default 127.0.0.1). */
  readonly host?: string;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The bound port. */
  readonly port: number;
  /** The bound host. */
  readonly host: string;
  /** Stops listening and ends open connections; idempotent. */
  close(): Promise<void>;
}

/**
 * Starts serving `registry` at `http://host:port/metrics`. Rejects with a `BrokerArgumentError`
 * for a port outside 0..65535 and with the listen error (e.g. `EADDRINUSE`) when the port is taken.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry } = options;
  if (!Number.isSafeInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new BrokerArgumentError(
      `startMetricsServer: port must be an integer from 0 to 65535, got ${options.port}`,
    );
  }
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found; scrape GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) =>
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(error)}\n`),
    );
  });
  server.maxConnections = METRICS_CONNECTIONS_MAX;
  server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS;
  server.headersTimeout = METRICS_REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    port: address.port,
    host,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
