/**
 * A small JSON router on `node:http`: enough for the checkout's API without a framework. Routes
 * are `METHOD /path/:param`; bodies are JSON up to 1 MiB.
 */

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

/** A parsed request. */
export interface HttpRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The JSON body (undefined when there was none). */
  readonly body: unknown;
}

/** What a route answers. */
export interface HttpResponse {
  readonly status: number;
  /** Sent as JSON, unless `text` is set. */
  readonly body: unknown;
  /** Sent as it is instead of `body` (e.g. Prometheus text); give its `content-type` in `headers`. */
  readonly text?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** One route. */
export interface Route {
  readonly method: 'GET' | 'POST';
  /** E.g. `/orders/:id`. */
  readonly path: string;
  /** The service the route belongs to (on its trace spans). */
  readonly service?: string;
  handle(request: HttpRequest): Promise<HttpResponse> | HttpResponse;
}

/** A running server. */
export interface HttpServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Largest accepted request body. */
const BODY_BYTES_MAX = 1024 * 1024;

/** Answers 400 with a message (and the failing fields, if any). */
export function badRequest(
  error: string,
  fields?: readonly { field: string; message: string }[],
): HttpResponse {
  return { status: 400, body: fields === undefined ? { error } : { error, fields } };
}

/** Turns zod issues into `{field, message}` pairs. */
export function fieldProblems(issues: readonly { path: readonly PropertyKey[]; message: string }[]) {
  return issues.map((issue) => ({
    field: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }));
}

/**
 * Serves `routes` on `host:port` (port 0 picks a free one). If `port` is taken and `fallbackToAny`
 * is set, picks a free port instead.
 */
export async function startHttpServer(
  routes: readonly Route[],
  options: { port: number; host: string; fallbackToAny?: boolean },
): Promise<HttpServer> {
  const compiled = routes.map((route) => ({ route, pattern: compile(route.path) }));
  const server = createServer((request, response) => {
    void dispatch(compiled, request, response);
  });
  server.keepAliveTimeout = 5000;
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    await listen(options.port);
  } catch (error) {
    if (!(options.fallbackToAny && (error as NodeJS.ErrnoException).code === 'EADDRINUSE')) throw error;
    await listen(0);
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type Compiled = { route: Route; pattern: RegExp };

/** Tracer of the checkout's HTTP API (a no-op until an OpenTelemetry SDK is registered). */
const tracer = trace.getTracer('@herald/checkout');

async function dispatch(compiled: readonly Compiled[], request: IncomingMessage, response: ServerResponse) {
  // A SERVER span per request, continuing the caller's `traceparent` header (through the
  // registered propagator), so the messages a request publishes join the caller's trace.
  const parent = propagation.extract(ROOT_CONTEXT, request.headers);
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  const route = compiled.find(
    (entry) => entry.route.method === request.method && entry.pattern.test(path),
  )?.route;
  const span = tracer.startSpan(
    `${request.method} ${route?.path ?? path}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': request.method ?? '',
        ...(route === undefined ? {} : { 'http.route': route.path }),
        ...(route?.service === undefined ? {} : { 'herald.checkout.service': route.service }),
      },
    },
    parent,
  );
  let answer: HttpResponse;
  try {
    answer = await context.with(trace.setSpan(parent, span), () => answerRequest(compiled, request));
  } catch (error) {
    answer = { status: 500, body: { error: `internal error: ${(error as Error).message ?? String(error)}` } };
  }
  span.setAttribute('http.response.status_code', answer.status);
  if (answer.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
  const text = answer.text ?? JSON.stringify(answer.body);
  response.writeHead(answer.status, {
    'content-type':
      answer.text === undefined ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...answer.headers,
  });
  response.end(text);
}

async function answerRequest(compiled: readonly Compiled[], request: IncomingMessage): Promise<HttpResponse> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const matches = compiled
    .map(({ route, pattern }) => ({ route, match: pattern.exec(url.pathname) }))
    .filter((candidate) => candidate.match !== null);
  if (matches.length === 0) return { status: 404, body: { error: `no route for ${url.pathname}` } };
  const found = matches.find((candidate) => candidate.route.method === request.method);
  if (found === undefined) return { status: 405, body: { error: `${request.method} not allowed here` } };
  const raw = await readBody(request);
  if (raw === 'too-large')
    return { status: 413, body: { error: `body larger than ${BODY_BYTES_MAX} bytes` } };
  let body: unknown;
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw);
    } catch {
      return badRequest('the body is not valid JSON');
    }
  }
  const params = Object.fromEntries(
    Object.entries(found.match!.groups ?? {}).map(([name, value]) => [name, decodeURIComponent(value)]),
  );
  return found.route.handle({ params, query: url.searchParams, headers: request.headers, body });
}

async function readBody(request: IncomingMessage): Promise<string | 'too-large'> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > BODY_BYTES_MAX) return 'too-large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function compile(path: string): RegExp {
  const source = path
    .split('/')
    .map((part) =>
      part.startsWith(':') ? `(?<${part.slice(1)}>[^/]+)` : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${source}/?$`);
}
