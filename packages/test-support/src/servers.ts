/**
 * The servers `npm run setup` starts for the tests (RabbitMQ, PostgreSQL, NATS JetStream, Redis):
 * their ports from the `HERALD_*_PORT` variables, their URLs, and a reachability check that fails
 * at once with what to do instead of letting a test wait on a server that is not there.
 */
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
 * A loopback port the OS says is free now (it listens on port 0, reads the port, closes). Another
 * process may take it before the caller binds it; for servers that cannot pick their own port.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
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
