/**
 * `startHealthServer()`: liveness and readiness endpoints for a process with an embedded bus
 * (`/live`, `/ready`, `/health`; see `healthAnswer` in `@herald/bus`), plus any extra GET routes
 * handed in — the spot where a `/metrics` endpoint joins the same port.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ConfigurationError,
  type HealthAnswer,
  type HealthVerdict,
  healthAnswer,
  healthFailureAnswer,
} from '@herald/bus';

/** An extra GET route: computes its answer per request. */
export type HealthRoute = () => HealthAnswer | Promise<HealthAnswer>;

/** Options of {@link startHealthServer}. */
export interface HealthServerOptions {
  /** TCP port (0 picks a free one; see {@link HealthServer.url}). */
  readonly port: number;
  /** Interface to bind (default 127.0.0.1; `0.0.0.0` for probes from outside a container). */
  readonly host?: string;
  /** The report the probes read, e.g. `() => bus.health()` or `combineHealth({...})`. */
  readonly report: () => HealthVerdict;
  /**
   * More GET routes on the same port by exact path, e.g. `{ '/metrics': () => scrape() }`. They
   * may not replace `/live`, `/ready` or `/health`.
   */
  readonly routes?: Readonly<Record<string, HealthRoute>>;
  /** Longest a route may take before the answer is 503 (default 5 s). */
  readonly routeTimeoutMs?: number;
}

/** A running health server. */
export interface HealthServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and drops open connections. Idempotent. */
  close(): Promise<void>;
}

/** Default of {@link HealthServerOptions.routeTimeoutMs}. */
export const HEALTH_ROUTE_TIMEOUT_MS_DEFAULT = 5_000;
/** Probes send no body; a slow or idle client is dropped after this. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Serves the health endpoints (and `options.routes`) until `close()`. */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  for (const path of Object.keys(options.routes ?? {})) {
    if (healthAnswer(path, { live: true, ready: true }) !== undefined || !path.startsWith('/')) {
      throw new ConfigurationError(
        `startHealthServer: route "${path}" must start with "/" and not be /live, /ready or /health`,
      );
    }
  }
  const routeTimeoutMs = options.routeTimeoutMs ?? HEALTH_ROUTE_TIMEOUT_MS_DEFAULT;
  const server = createServer((request, response) => {
    void answer(request, options, routeTimeoutMs).then((reply) => send(response, reply));
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

async function answer(
  request: IncomingMessage,
  options: HealthServerOptions,
  routeTimeoutMs: number,
): Promise<HealthAnswer> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return { status: 405, contentType: 'text/plain; charset=utf-8', body: 'GET only\n' };
  }
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  try {
    const route = options.routes?.[path];
    if (route !== undefined) return await withTimeout(route(), routeTimeoutMs, path);
    const health = healthAnswer(path, options.report());
    if (health !== undefined) return health;
  } catch (error) {
    return healthFailureAnswer(error);
  }
  const known = ['/live', '/ready', '/health', ...Object.keys(options.routes ?? {})].join(', ');
  return { status: 404, contentType: 'text/plain; charset=utf-8', body: `no route ${path}; try ${known}\n` };
}

async function withTimeout(
  reply: HealthAnswer | Promise<HealthAnswer>,
  timeoutMs: number,
  path: string,
): Promise<HealthAnswer> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${path} took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([reply, late]);
  } finally {
    clearTimeout(timer);
  }
}

function send(response: ServerResponse, reply: HealthAnswer): void {
  response.writeHead(reply.status, {
    'content-type': reply.contentType,
    'content-length': Buffer.byteLength(reply.body),
    'cache-control': 'no-store',
  });
  response.end(response.req.method === 'HEAD' ? undefined : reply.body);
}
