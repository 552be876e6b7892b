/**
 * The servers `npm run setup` starts for the tests (RabbitMQ, PostgreSQL, NATS JetStream, Redis):
 * their ports from the `HERALD_*_PORT` variables, their URLs, and a reachability check that fails
 * at once with what to do instead of letting a test wait on a server that is not there.
 */
import { readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';

/** A server the tests use, the variable that moves its port, and its default port. */
export interface ServerSpec {
  /** Its name in messages. */
  readonly name: string;
  /** The environment variable with its port on 127.0.0.1. */
  readonly portVariable: string;
  /** Its port when the variable is not set. */
  readonly portDefault: number;
}

/** The servers `npm run setup` starts. */
export const SERVERS = {
  rabbitmq: { name: 'RabbitMQ', portVariable: 'HERALD_RABBITMQ_PORT', portDefault: 5672 },
  postgres: { name: 'PostgreSQL', portVariable: 'HERALD_POSTGRES_PORT', portDefault: 5432 },
  nats: { name: 'NATS', portVariable: 'HERALD_NATS_PORT', portDefault: 4222 },
  redis: { name: 'Redis', portVariable: 'HERALD_REDIS_PORT', portDefault: 6379 },
} as const satisfies Record<string, ServerSpec>;

/** One of {@link SERVERS}. */
export type ServerName = keyof typeof SERVERS;

/** The port of `server` on 127.0.0.1: its `HERALD_*_PORT` variable, or its default. */
export function serverPort(server: ServerName): number {
  const spec: ServerSpec = SERVERS[server];
  const text = process.env[spec.portVariable];
  if (text === undefined || text === '') return spec.portDefault;
  const port = Number(text);
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new Error(`${spec.portVariable}=${text} is not a port: unset it or give 1-65535`);
  }
  return port;
}

/** The RabbitMQ the tests use: `HERALD_RABBITMQ_URL`, or guest on the local port. */
export const RABBITMQ_URL: string =
  process.env.HERALD_RABBITMQ_URL ?? `amqp://guest:guest@127.0.0.1:${serverPort('rabbitmq')}`;

/** The PostgreSQL database the tests use: `HERALD_POSTGRES_URL`, or `test` on the local port (trust auth). */
export const POSTGRES_URL: string =
  process.env.HERALD_POSTGRES_URL ?? `postgres://postgres@127.0.0.1:${serverPort('postgres')}/test`;

/** How long {@link requireReachable} waits for a TCP connection by default: 2 s. */
export const REACHABLE_TIMEOUT_MS_DEFAULT = 2_000;

/**
 * Resolves once `host:port` accepts a TCP connection (closed at once); rejects, naming `what`, the
 * address and `npm run setup`, when it refuses or does not answer within `timeoutMs` (default 2 s).
 */
export function requireReachable(
  what: string,
  host: string,
  port: number,
  timeoutMs: number = REACHABLE_TIMEOUT_MS_DEFAULT,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (reason: string) => {
      socket.destroy();
      reject(new Error(`${what} is not reachable at ${host}:${port} (${reason}): run npm run setup`));
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs} ms`));
    socket.once('error', (error) => fail(error.message));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}

/** {@link requireReachable} for one of the servers `npm run setup` starts, on its port. */
export function requireServer(server: ServerName, timeoutMs?: number): Promise<void> {
  return requireReachable(SERVERS[server].name, '127.0.0.1', serverPort(server), timeoutMs);
}

/** {@link requireReachable} for the RabbitMQ at `url` ({@link RABBITMQ_URL} by default). */
export function requireRabbitMq(url: string = RABBITMQ_URL, timeoutMs?: number): Promise<void> {
  const { hostname, port } = new URL(url);
  return requireReachable('RabbitMQ', hostname, Number(port || 5672), timeoutMs);
}

/**
 * Lowest port {@link freePort} hands out. Below it are the servers `npm run setup` starts and
 * their companions (RabbitMQ's management 15672, epmd 4369, NATS 4222/8222, moto 4566).
 */
const FREE_PORT_LOW = 20_000;
/** RabbitMQ's default distribution port (AMQP port + 20000): never handed out. */
const PORTS_RESERVED = new Set([25_672]);
/** Random ports tried before {@link freePort} gives up (each is one listen on loopback). */
const FREE_PORT_ATTEMPTS_MAX = 200;
/** Ports this process handed out, remembered so two calls in a row never return the same one. */
const PORTS_HANDED_OUT_MAX = 1_024;
const portsHandedOut = new Set<number>();

/**
 * A loopback port free now, for a server started next that cannot pick its own (a JVM, a
 * `nats-server`): it listens on the port, closes, and returns it, so another process may still
 * take it before the caller binds it.
 *
 * Why not port 0: the kernel picks that from the ephemeral range
 * (`/proc/sys/net/ipv4/ip_local_port_range`, 32768–60999 here), the same range every outgoing
 * connection on the machine takes its local port from. A Kafka node binds its ports seconds
 * after they are chosen (storage format, JVM start), and under a full test run hundreds of client
 * connections open in that window, any of which may take the port. So the port is drawn at random
 * from below the ephemeral range (from {@link FREE_PORT_LOW}), where only listeners live, and is
 * never one this process handed out before. Falls back to port 0 if that range is empty.
 */
export async function freePort(): Promise<number> {
  ephemeralLow ??= ephemeralPortRange()[0];
  const span = ephemeralLow - FREE_PORT_LOW;
  for (let attempt = 0; span > 0 && attempt < FREE_PORT_ATTEMPTS_MAX; attempt++) {
    const port = FREE_PORT_LOW + Math.floor(Math.random() * span);
    if (PORTS_RESERVED.has(port) || portsHandedOut.has(port)) continue;
    if ((await listenAndClose(port)) !== undefined) return handOut(port);
  }
  const port = await listenAndClose(0);
  if (port === undefined) throw new Error('freePort: cannot listen on any loopback port');
  return handOut(port);
}

/** The low end of {@link ephemeralPortRange}, read once (it does not change while tests run). */
let ephemeralLow: number | undefined;

/** The kernel's ephemeral port range; 32768–60999 (Linux's default) where it cannot be read. */
export function ephemeralPortRange(): [low: number, high: number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    if (Number.isInteger(Number(low)) && Number.isInteger(Number(high))) return [Number(low), Number(high)];
  } catch {
    // Not Linux, or no /proc: the default below.
  }
  return [32_768, 60_999];
}

function handOut(port: number): number {
  if (portsHandedOut.size >= PORTS_HANDED_OUT_MAX) portsHandedOut.clear();
  portsHandedOut.add(port);
  return port;
}

/**
 * Listens on `port` on loopback (0: any) and closes again: resolves the port bound, or undefined
 * if it cannot be bound now.
 */
function listenAndClose(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * Whether `host:port` accepts a TCP connection now (closed at once): false when it refuses or
 * does not answer within `timeoutMs` (default 2 s). For waiting until a server is up or gone.
 */
export function accepts(
  port: number,
  host = '127.0.0.1',
  timeoutMs = REACHABLE_TIMEOUT_MS_DEFAULT,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const answer = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.setTimeout(timeoutMs, () => answer(false));
    socket.once('error', () => answer(false));
    socket.once('connect', () => answer(true));
  });
}
