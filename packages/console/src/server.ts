/**
 * The console's HTTP server, on node:http: a dozen JSON routes and two server-sent-event streams
 * need no framework, and node:http keeps the package free of runtime dependencies. Binds loopback
 * by default; any other address needs a token (bearer header, or `?token=` for EventSource).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigurationError, type Transport } from '@herald/bus';
import { CliError, EXIT, parseTime, readTopic, type Target, targetOfBroker } from '@herald/cli/internal';
import type {
  ConsoleSettings,
  ErrorView,
  MessageView,
  RedriveAllRequest,
  RedriveRequest,
  ResetRequest,
} from './api-types.ts';
import { messageViewOf } from './message-view.ts';
import { loadPageScript, PAGE_HTML } from './page-bundle.ts';
import { PRODUCE_BODY_BYTES_MAX, produceMessage } from './produce.ts';
import {
  listDeadLetterViews,
  listGroupViews,
  listTopicViews,
  PAGE_MESSAGES_MAX,
  readMessagePage,
  redriveAll,
  redriveDeadLetter,
  resetGroup,
} from './reads.ts';
import {
  SCAN_BUDGET_DEFAULT,
  SCAN_BUDGET_MAX,
  SEARCH_RESULTS_DEFAULT,
  SEARCH_RESULTS_MAX,
  search,
  trace,
} from './scans.ts';
import { withHandlerRuns } from './spans.ts';
import { topology } from './topology.ts';

/**
 * Open event streams (searches and live tails) at most: each holds a read of the broker, so more
 * are refused with 503 rather than slowing every other one down.
 */
const STREAMS_MAX = 16;

/** Largest request body the API accepts, in bytes (its requests are a few fields; produce has its own). */
const BODY_BYTES_MAX = 64 * 1024;

/** The routes that write: refused with 403 when the console is read-only. */
const WRITE_ROUTES = new Set([
  'POST /api/produce',
  'POST /api/groups/reset',
  'POST /api/dead-letters/redrive',
  'POST /api/dead-letters/redrive-all',
]);

/** Options of {@link startConsole}. */
export interface ConsoleOptions {
  /**
   * Where the console reads: an application's embedded transport (its broker, in this process:
   * the bus's subscribers show as the groups' live members) or a target from the CLI (`--data`,
   * `--broker`). Exactly one of `transport` and `target`.
   */
  readonly transport?: Transport | undefined;
  /** A target of `@herald/cli` (what `herald console` passes). */
  readonly target?: Target | undefined;
  /** Address to bind (default 127.0.0.1). Anything but loopback needs `token`. */
  readonly host?: string | undefined;
  /** Port (default 0: any free port). */
  readonly port?: number | undefined;
  /** Required of every request when set (`Authorization: Bearer …` or `?token=`). */
  readonly token?: string | undefined;
  /**
   * Refuse every write (produce, group resets, redrives) with 403 `CONSOLE_READ_ONLY`; default
   * false. The token gates who reaches the console; this gates what they may change.
   */
  readonly readOnly?: boolean | undefined;
  /**
   * A JSON-lines span file (one OpenTelemetry span per line, as the checkout writes with `--otel`):
   * the trace view then shows each event's handler runs, with their timings and failures.
   */
  readonly traces?: string | undefined;
}

/** A running console. */
export interface ConsoleServer {
  /** The page's address (with `?token=` when a token is set). */
  readonly url: string;
  /** Stops accepting requests and ends open streams; leaves the target open. Idempotent. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Starts the console on `options.target`; resolves once it listens. Throws a ConfigurationError
 * for a non-loopback host without a token.
 */
export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && (options.token === undefined || options.token === '')) {
    throw new ConfigurationError(
      `the console would be reachable at ${host} without a token; pass --token SECRET (or bind 127.0.0.1)`,
    );
  }
  const target = targetOf(options);
  const script = await loadPageScript();
  const streams = new Set<AbortController>();
  const server = createServer((request, response) => {
    void handle(request, response, { ...options, target }, script, streams);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const query = options.token === undefined ? '' : `?token=${encodeURIComponent(options.token)}`;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}/${query}`,
    close() {
      closing ??= closeServer(server, streams);
      return closing;
    },
  };
}

/** The target of `options`: the given one, or one on the embedded transport's broker. */
function targetOf(options: ConsoleOptions): Target {
  if (options.target !== undefined && options.transport === undefined) return options.target;
  const broker = (options.transport as { broker?: unknown } | undefined)?.broker;
  if (options.target === undefined && broker !== undefined) {
    return targetOfBroker(broker as Parameters<typeof targetOfBroker>[0]);
  }
  throw new ConfigurationError(
    options.transport !== undefined && options.target === undefined
      ? `startConsole reads a ${options.transport.name} transport's broker only on the embedded transport; ` +
          'for Kafka run herald console --broker HOST:PORT'
      : 'startConsole needs exactly one of transport (an embedded transport) and target',
  );
}

async function closeServer(server: Server, streams: Set<AbortController>): Promise<void> {
  for (const stream of streams) stream.abort();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** The host name of a Host header, without its port (`[::1]:8080` → `::1`). */
function hostnameOf(host: string | undefined): string {
  if (host === undefined) return '';
  try {
    return new URL(`http://${host}`).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return '';
  }
}

function authorized(request: IncomingMessage, url: URL, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = request.headers.authorization;
  const given = header?.startsWith('Bearer ')
    ? header.slice('Bearer '.length)
    : (url.searchParams.get('token') ?? '');
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: ConsoleOptions & { readonly target: Target },
  script: string,
  streams: Set<AbortController>,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://console');
  const controller = new AbortController();
  response.once('close', () => controller.abort());
  try {
    if (!authorized(request, url, options.token)) {
      return sendError(response, 401, 'CLI_USAGE', 'this console needs its token: open the URL it printed');
    }
    // Without a token, loopback is the only gate: a page of another site must not reach the API,
    // through a name that resolves to 127.0.0.1 (DNS rebinding) or by a form post.
    if ((options.token ?? '') === '' && !LOOPBACK.has(hostnameOf(request.headers.host))) {
      return sendError(
        response,
        403,
        'CLI_USAGE',
        'this console answers only at its loopback address: open the URL it printed (or start it with --token)',
      );
    }
    if (request.method === 'POST' && !request.headers['content-type']?.startsWith('application/json')) {
      // A cross-site form or text/plain post needs no CORS preflight: refusing it keeps writes to the page's own fetches.
      return sendError(
        response,
        415,
        'CLI_USAGE',
        'send the request body as JSON (content-type: application/json)',
      );
    }
    if (url.pathname === '/' && request.method === 'GET') return send(response, 200, 'text/html', PAGE_HTML);
    if (url.pathname === '/app.js') return send(response, 200, 'text/javascript', script);
    if (options.readOnly === true && WRITE_ROUTES.has(`${request.method} ${url.pathname}`)) {
      return sendError(
        response,
        403,
        'CONSOLE_READ_ONLY',
        'this console was started with --read-only; restart it without --read-only to produce, reset groups or redrive',
      );
    }
    if (url.pathname === '/api/search' || url.pathname === '/api/tail') {
      if (streams.size >= STREAMS_MAX) {
        return sendError(
          response,
          503,
          'CLI_UNAVAILABLE',
          `${STREAMS_MAX} searches and tails are open; close one and retry`,
        );
      }
      streams.add(controller);
      try {
        return await stream(url, response, options.target, controller.signal);
      } finally {
        streams.delete(controller);
      }
    }
    const body = await route(request, url, options, controller.signal);
    if (body === undefined) return sendError(response, 404, 'CLI_NOT_FOUND', `no route ${url.pathname}`);
    send(response, 200, 'application/json', JSON.stringify(body));
  } catch (error) {
    if (error instanceof CliError) {
      const status = error.exitCode === EXIT.notFound ? 404 : error.exitCode === EXIT.conflict ? 409 : 400;
      return sendError(response, status, error.code, error.message);
    }
    sendError(response, 500, 'HERALD_INTERNAL', (error as Error).message);
  }
}

async function route(
  request: IncomingMessage,
  url: URL,
  options: ConsoleOptions & { readonly target: Target },
  signal: AbortSignal,
): Promise<unknown> {
  const { target, traces } = options;
  const query = url.searchParams;
  switch (`${request.method} ${url.pathname}`) {
    case 'GET /api/settings':
      return {
        readOnly: options.readOnly === true,
        produceBodyBytesMax: PRODUCE_BODY_BYTES_MAX,
      } satisfies ConsoleSettings;
    case 'POST /api/produce':
      return produceMessage(target, await readJson(request, PRODUCE_BODY_BYTES_MAX));
    case 'GET /api/topics':
      return listTopicViews(target);
    case 'GET /api/messages': {
      const topic = required(query, 'topic');
      const partition = integer(query, 'partition', 0, 0, 1_000_000);
      const time = query.get('time');
      // From a time (ms or ISO 8601): the first offset at or after it, else the end.
      const offset =
        time === null || time === ''
          ? BigInt(integer(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER))
          : await offsetAtTime(target, topic, partition, parseTime(time, 'time'));
      return readMessagePage(
        target,
        topic,
        partition,
        offset,
        integer(query, 'limit', 50, 1, PAGE_MESSAGES_MAX),
      );
    }
    case 'GET /api/groups':
      return listGroupViews(target);
    case 'POST /api/groups/reset':
      await resetGroup(target, (await readJson(request)) as ResetRequest);
      return { ok: true };
    case 'GET /api/dead-letters':
      return listDeadLetterViews(target, signal);
    case 'POST /api/dead-letters/redrive':
      await redriveDeadLetter(target, (await readJson(request)) as RedriveRequest, signal);
      return { ok: true };
    case 'POST /api/dead-letters/redrive-all':
      return redriveAll(target, (await readJson(request)) as RedriveAllRequest, signal);
    case 'GET /api/trace': {
      const view = await trace(
        target,
        required(query, 'q'),
        integer(query, 'budget', SCAN_BUDGET_DEFAULT, 1, SCAN_BUDGET_MAX),
        signal,
      );
      return traces === undefined ? view : withHandlerRuns(view, traces, signal);
    }
    case 'GET /api/topology':
      return topology(target, signal);
    default:
      return undefined;
  }
}

/** The two SSE routes: a search's matches and progress, and the live tail of a topic. */
async function stream(
  url: URL,
  response: ServerResponse,
  target: Target,
  signal: AbortSignal,
): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  const event = async (name: string, data: unknown) => {
    // Waits for the socket to drain: a slow page slows the read instead of growing a buffer.
    if (!response.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`) && !signal.aborted) {
      await new Promise((resolve) => response.once('drain', resolve));
    }
  };
  const query = url.searchParams;
  if (url.pathname === '/api/search') {
    const done = await search(target, {
      needle: required(query, 'q'),
      budget: integer(query, 'budget', SCAN_BUDGET_DEFAULT, 1, SCAN_BUDGET_MAX),
      resultsMax: integer(query, 'limit', SEARCH_RESULTS_DEFAULT, 1, SEARCH_RESULTS_MAX),
      signal,
      onMatch: (message) => void event('match', message),
      onProgress: (progress) => void event('progress', progress),
    });
    await event('done', done);
  } else {
    const topic = required(query, 'topic');
    const matches = tailFilter(query);
    const info = await target.describeTopic(topic);
    await event('ready', { topic });
    await readTopic({
      target,
      topic,
      start: new Map(info.partitions.map((p) => [p.partition, p.highWatermark])),
      follow: true,
      signal,
      onRecord: async (record) => {
        const message = messageViewOf(record);
        if (matches(message)) await event('message', message);
        return !signal.aborted;
      },
    });
  }
  response.end();
}

/**
 * The live tail's filters: `type` (the CloudEvents type), `key` (exact), `header` (`name=value`,
 * exact); every one given must match.
 */
function tailFilter(query: URLSearchParams): (message: MessageView) => boolean {
  const type = query.get('type') || undefined;
  const key = query.get('key') || undefined;
  const header = query.get('header') || undefined;
  const separator = header?.indexOf('=') ?? -1;
  if (header !== undefined && separator < 1) {
    throw new CliError(`query parameter "header" must be name=value, got "${header}"`, EXIT.usage);
  }
  const [headerName, headerValue] =
    header === undefined ? [] : [header.slice(0, separator), header.slice(separator + 1)];
  return (message) =>
    (type === undefined || message.cloudEvent?.type === type) &&
    (key === undefined || message.key?.text === key) &&
    (headerName === undefined ||
      message.headers.some(([name, value]) => name === headerName && value === headerValue));
}

async function offsetAtTime(
  target: Target,
  topic: string,
  partition: number,
  timestampMs: number,
): Promise<bigint> {
  const found = await target.offsetForTimestamp(topic, partition, timestampMs);
  if (found !== undefined) return found;
  return (await target.fetch(topic, partition, 0n, 0)).highWatermark;
}

function required(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (value === null || value === '') throw new CliError(`missing query parameter "${name}"`, EXIT.usage);
  return value;
}

function integer(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const text = query.get(name);
  if (text === null || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CliError(
      `query parameter "${name}" must be an integer from ${min} to ${max}, got "${text}"`,
      EXIT.usage,
    );
  }
  return value;
}

async function readJson(request: IncomingMessage, bytesMax = BODY_BYTES_MAX): Promise<unknown> {
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    sizeBytes += chunk.length;
    if (sizeBytes > bytesMax) {
      throw new CliError(
        `request body over ${bytesMax} bytes; publish larger messages with herald produce FILE`,
        EXIT.usage,
      );
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new CliError('request body is not JSON', EXIT.usage, { cause: error });
  }
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
  response.end(body);
}

function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  const body: ErrorView = { error: message, code };
  if (response.headersSent) response.end();
  else send(response, status, 'application/json', JSON.stringify(body));
}
