/**
 * The Kafka-protocol server: a TCP listener in front of one `@herald/broker`. Binds to loopback
 * unless `insecure` is set, since there is no authentication yet. `close()` stops accepting,
 * answers long polls and waiting group members at once, lets in-flight requests finish (bounded
 * by a deadline), then closes the broker it opened.
 */
import net from 'node:net';
import { type Broker, openBroker } from '@herald/broker';
import { HeraldError } from '@herald/errors';
import type { FileSystem } from '@herald/log';
import { registerPureJsCodecs } from './compression.ts';
import { Connection, type ConnectionLimits } from './connection.ts';
import type { ResponseSize, ServerContext } from './context.ts';
import { GroupCoordinator, type GroupCoordinatorOptions } from './group-coordinator.ts';
import { ProducerStateManager } from './producer-state.ts';
import { TopicCache } from './topic-cache.ts';

/** Options of {@link startKafkaServer}. */
export interface KafkaServerOptions {
  /** Data directory of the broker the server opens (ignored when `broker` is given). */
  readonly dir?: string;
  /** An open broker to serve; the server then does not close it. */
  readonly broker?: Broker;
  /** TCP port (default 9092; 0 picks a free one). */
  readonly port?: number;
  /** Interface to bind (default 127.0.0.1). Anything but loopback needs `insecure`. */
  readonly host?: string;
  /** Allow binding a non-loopback interface without authentication. */
  readonly insecure?: boolean;
  /** Host clients are told to connect to (default: the bind host). */
  readonly advertisedHost?: string;
  /** Port clients are told to connect to (default: the bound port). */
  readonly advertisedPort?: number;
  /** Partitions of auto-created topics (default 4... the broker's default). */
  readonly partitions?: number;
  /** Create topics named in Metadata requests (default true). */
  readonly autoCreateTopics?: boolean;
  /** Largest request frame (default 100 MiB, Kafka's socket.request.max.bytes). */
  readonly requestBytesMax?: number;
  /** Requests one connection may have in flight (default 64). */
  readonly inFlightRequestsMax?: number;
  /** Most open connections (default 1024). */
  readonly connectionsMax?: number;
  /** Idle connections are closed after this (default 10 min, Kafka's connections.max.idle.ms). */
  readonly idleTimeoutMs?: number;
  /** Most bytes one Fetch response carries (default 64 MiB). */
  readonly fetchResponseBytesMax?: number;
  /** How long `close()` waits for in-flight requests (default 5 s). */
  readonly shutdownTimeoutMs?: number;
  /** Group coordinator limits. */
  readonly groups?: GroupCoordinatorOptions;
  /**
   * Testing hook: the file system of the broker the server opens (see `BrokerOptions.fileSystem`;
   * ignored when `broker` is given). Crash tests pass one that loses unsynced bytes on a kill.
   */
  readonly fileSystem?: FileSystem;
  /** Receives unexpected errors (default: ignore). */
  readonly onError?: (error: unknown) => void;
  /**
   * Told the API, version and size of every response once encoded, before it is written (for
   * metrics, and for tests that check what a client received). Must not throw.
   */
  readonly onResponse?: (response: ResponseSize) => void;
}

/** A running server. */
export interface KafkaServer {
  /** The bound port. */
  readonly port: number;
  /** The bound host. */
  readonly host: string;
  /** The broker being served. */
  readonly broker: Broker;
  /** Open connections. */
  readonly connectionCount: number;
  /**
   * Members a Kafka consumer group has in this server's group coordinator now (0 for a group it
   * does not coordinate): what `kafka_consumergroup_members` reports for Kafka clients' groups.
   */
  groupMemberCount(group: string): number;
  /** Serves an already-connected socket (the listener uses it; tests drive it without TCP). */
  handle(socket: net.Socket): void;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}

const MEBIBYTE = 1024 * 1024;

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Thrown when the server cannot start as configured: a `HeraldError` with code `HERALD_CONFIGURATION`. */
export class KafkaServerConfigError extends HeraldError {
  constructor(message: string) {
    super('HERALD_CONFIGURATION', message);
  }
}

/** Opens the broker (unless given) and starts listening. */
export async function startKafkaServer(options: KafkaServerOptions = {}): Promise<KafkaServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && options.insecure !== true) {
    throw new KafkaServerConfigError(
      `refusing to listen on ${host}: the Kafka server has no authentication yet, so it binds to loopback only; ` +
        'pass --insecure (insecure: true) to expose it on other interfaces',
    );
  }
  registerPureJsCodecs();
  const broker =
    options.broker ??
    (await openBroker({
      ...(options.dir === undefined ? {} : { dir: options.dir }),
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
      ...(options.fileSystem === undefined ? {} : { fileSystem: options.fileSystem }),
      leaderEpoch: -1,
    }));
  const onError = options.onError ?? (() => {});
  let markClosing!: () => void;
  const closing = new Promise<void>((resolve) => {
    markClosing = resolve;
  });
  let isClosing = false;
  const groups = new GroupCoordinator(options.groups);
  const context: ServerContext = {
    broker,
    topics: new TopicCache(broker),
    groups,
    producers: new ProducerStateManager(broker),
    advertisedHost: options.advertisedHost ?? (host === '0.0.0.0' || host === '::' ? 'localhost' : host),
    advertisedPort: 0,
    clusterId: 'herald',
    defaultPartitions: options.partitions ?? 4,
    autoCreateTopics: options.autoCreateTopics ?? true,
    fetchResponseBytesMax: options.fetchResponseBytesMax ?? 64 * MEBIBYTE,
    closing,
    isClosing: () => isClosing,
    onError,
    ...(options.onResponse === undefined ? {} : { onResponse: options.onResponse }),
  };
  const limits: ConnectionLimits = {
    requestBytesMax: options.requestBytesMax ?? 100 * MEBIBYTE,
    inFlightRequestsMax: options.inFlightRequestsMax ?? 64,
    outputBytesMax: 32 * MEBIBYTE,
    idleTimeoutMs: options.idleTimeoutMs ?? 10 * 60_000,
  };
  const connectionsMax = options.connectionsMax ?? 1024;
  const connections = new Set<Connection>();
  const handle = (socket: net.Socket): void => {
    if (isClosing || connections.size >= connectionsMax) {
      socket.destroy();
      return;
    }
    const connection = new Connection(socket, context, limits);
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
  };
  const server = net.createServer(handle);
  server.on('error', onError);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 9092, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    if (options.broker === undefined) await broker.close();
    throw error;
  }
  const port = (server.address() as net.AddressInfo).port;
  context.advertisedPort = options.advertisedPort ?? port;
  let closed: Promise<void> | undefined;
  return {
    port,
    host,
    broker,
    get connectionCount() {
      return connections.size;
    },
    groupMemberCount: (group) => groups.describeGroup(group)?.members.length ?? 0,
    handle,
    close() {
      closed ??= (async () => {
        isClosing = true;
        markClosing();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        groups.close();
        const deadline = performance.now() + (options.shutdownTimeoutMs ?? 5_000);
        await Promise.all([...connections].map((connection) => connection.drain(deadline)));
        await stopped;
        if (options.broker === undefined) await broker.close();
      })();
      return closed;
    },
  };
}
