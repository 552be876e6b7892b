/**
 * The Kafka-protocol server: a TCP or TLS listener in front of one `@herald/broker`, with
 * optional SASL authentication (SCRAM-SHA-256/512, PLAIN over TLS; users in the data directory).
 * Binds to a non-loopback interface only with TLS and SASL, or with `insecure`. New connections
 * are admitted against total and per-address bounds before any handshake. `close()` stops accepting,
 * answers long polls and waiting group members at once, lets in-flight requests finish (bounded
 * by a deadline), then closes the broker it opened.
 */
import net from 'node:net';
import tls from 'node:tls';
import { type Broker, openBroker } from '@herald/broker';
import type { FileSystem } from '@herald/log';
import { registerPureJsCodecs } from './compression.ts';
import { KafkaServerConfigError } from './config-error.ts';
import { Connection, type ConnectionLimits } from './connection.ts';
import type { ResponseSize, ServerContext } from './context.ts';
import { GroupCoordinator, type GroupCoordinatorOptions } from './group-coordinator.ts';
import { ProducerStateManager } from './producer-state.ts';
import { Admission } from './security/admission.ts';
import { Authorizer } from './security/authorizer.ts';
import { ByteRateQuota, type Quotas } from './security/quotas.ts';
import { SASL_MECHANISMS, type SaslMechanism, type SaslSettings } from './security/sasl-session.ts';
import { loadTlsContext, type TlsFiles, watchTlsFiles } from './security/tls-files.ts';
import { UserDirectory } from './security/user-store.ts';
import { TopicCache } from './topic-cache.ts';

export { KafkaServerConfigError } from './config-error.ts';

/** SASL settings of {@link KafkaServerOptions}. */
export interface KafkaServerSaslOptions {
  /**
   * Mechanisms offered (default SCRAM-SHA-512 and SCRAM-SHA-256, plus PLAIN on a TLS listener).
   * PLAIN sends the password itself, so it is refused without TLS.
   */
  readonly mechanisms?: readonly SaslMechanism[];
  /** Data directory holding `security/users.json` (default: `dir`). */
  readonly usersDir?: string;
}

/** ACL settings of {@link KafkaServerOptions}. */
export interface KafkaServerAclOptions {
  /** Data directory holding `security/acls.json` (default: `dir`). */
  readonly aclsDir?: string;
  /**
   * Principals allowed everything without ACLs (Kafka's `super.users`), e.g. `User:admin`.
   * Everybody else needs a matching allow ACL and no matching deny.
   */
  readonly superUsers?: readonly string[];
  /**
   * Told one line per denied request (at most 20 per 10 s; the rest are counted in a summary
   * line). Default: `onError`, as an Error.
   */
  readonly onDenied?: (line: string) => void;
}

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
  /** Allow binding a non-loopback interface without TLS and SASL (trusted networks only). */
  readonly insecure?: boolean;
  /** Serve TLS with these PEM files (reloaded when they change). */
  readonly tls?: TlsFiles;
  /** How often the TLS files are checked for changes (default 5 s). */
  readonly tlsReloadIntervalMs?: number;
  /** Require SASL authentication before any other request. */
  readonly sasl?: KafkaServerSaslOptions;
  /**
   * Enforce ACLs (Kafka's semantics: no matching allow means denied; deny wins; super users
   * bypass). Off by default: without it every connection may do everything.
   */
  readonly acls?: KafkaServerAclOptions;
  /** A connection that has not authenticated within this is closed (default 10 s; TLS handshake included). */
  readonly authTimeoutMs?: number;
  /** Largest frame before authentication (default 512 KiB, Kafka's sasl.server.max.receive.size). */
  readonly authRequestBytesMax?: number;
  /** Most open connections from one address (default 1024, the same as `connectionsMax`). */
  readonly connectionsPerIpMax?: number;
  /**
   * Produce byte rate of each principal (Kafka's producer_byte_rate; default unlimited): above it,
   * responses carry throttle_time_ms and the connection is not read for that long (at most 30 s).
   */
  readonly produceQuotaBytesPerSecond?: number;
  /** Fetch byte rate of each principal (Kafka's consumer_byte_rate; default unlimited), as above. */
  readonly fetchQuotaBytesPerSecond?: number;
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
  /** Connections refused so far by `connectionsMax` or `connectionsPerIpMax`. */
  readonly connectionsRefused: number;
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

/** Checks the security settings; resolves the SASL settings, if any. */
function securitySettings(
  options: KafkaServerOptions,
  host: string,
  onError: (error: unknown) => void,
): SaslSettings | undefined {
  if (
    !isLoopback(host) &&
    options.insecure !== true &&
    (options.tls === undefined || options.sasl === undefined)
  ) {
    const missing = [
      ...(options.tls === undefined ? ['TLS (--tls-cert FILE --tls-key FILE)'] : []),
      ...(options.sasl === undefined ? ['SASL (--sasl, with users from `herald users add`)'] : []),
    ];
    throw new KafkaServerConfigError(
      `refusing to listen on ${host} without ${missing.join(' and ')}: anyone who reaches the port could ` +
        'read and write every topic; configure them, bind to 127.0.0.1, or pass --insecure (insecure: true) ' +
        'on a trusted network',
    );
  }
  if (options.sasl === undefined) return undefined;
  const mechanisms =
    options.sasl.mechanisms ??
    (['SCRAM-SHA-512', 'SCRAM-SHA-256', ...(options.tls === undefined ? [] : ['PLAIN'])] as SaslMechanism[]);
  for (const mechanism of mechanisms) {
    if (!SASL_MECHANISMS.includes(mechanism)) {
      throw new KafkaServerConfigError(
        `unknown SASL mechanism "${mechanism}"; use ${SASL_MECHANISMS.join(', ')}`,
      );
    }
  }
  if (mechanisms.length === 0) throw new KafkaServerConfigError('SASL needs at least one mechanism');
  if (mechanisms.includes('PLAIN') && options.tls === undefined) {
    throw new KafkaServerConfigError(
      'SASL PLAIN sends passwords in the clear: enable TLS (--tls-cert, --tls-key) or use SCRAM-SHA-512',
    );
  }
  const usersDir = options.sasl.usersDir ?? options.dir;
  if (usersDir === undefined) {
    throw new KafkaServerConfigError(
      'SASL needs the directory of the users file: give `dir` or `sasl.usersDir`',
    );
  }
  return { mechanisms, users: new UserDirectory(usersDir, onError) };
}

function createAuthorizer(
  options: KafkaServerOptions,
  onError: (error: unknown) => void,
): Authorizer | undefined {
  if (options.acls === undefined) return undefined;
  const aclsDir = options.acls.aclsDir ?? options.dir;
  if (aclsDir === undefined) {
    throw new KafkaServerConfigError('ACLs need the directory of the ACL file: give `dir` or `acls.aclsDir`');
  }
  for (const principal of options.acls.superUsers ?? []) {
    if (!/^User:[A-Za-z0-9._@-]{1,128}$/.test(principal)) {
      throw new KafkaServerConfigError(`invalid super user "${principal}": use User:NAME`);
    }
  }
  const log = options.acls.onDenied ?? ((line: string) => onError(new Error(line)));
  return new Authorizer(aclsDir, options.acls.superUsers ?? [], log, onError);
}

/** Opens the broker (unless given) and starts listening. */
export async function startKafkaServer(options: KafkaServerOptions = {}): Promise<KafkaServer> {
  const host = options.host ?? '127.0.0.1';
  const sasl = securitySettings(options, host, options.onError ?? (() => {}));
  const authorizer = createAuthorizer(options, options.onError ?? (() => {}));
  await authorizer?.refresh(true);
  const tlsContext = options.tls === undefined ? undefined : loadTlsContext(options.tls);
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
    ...(authorizer === undefined ? {} : { authorizer }),
    ...(options.onResponse === undefined ? {} : { onResponse: options.onResponse }),
  };
  const limits: ConnectionLimits = {
    requestBytesMax: options.requestBytesMax ?? 100 * MEBIBYTE,
    inFlightRequestsMax: options.inFlightRequestsMax ?? 64,
    outputBytesMax: 32 * MEBIBYTE,
    idleTimeoutMs: options.idleTimeoutMs ?? 10 * 60_000,
    authRequestBytesMax: options.authRequestBytesMax ?? 512 * 1024,
    authTimeoutMs: options.authTimeoutMs ?? 10_000,
  };
  const connectionsMax = options.connectionsMax ?? 1024;
  const quotas: Quotas = {
    ...(options.produceQuotaBytesPerSecond === undefined
      ? {}
      : { produce: new ByteRateQuota(options.produceQuotaBytesPerSecond) }),
    ...(options.fetchQuotaBytesPerSecond === undefined
      ? {}
      : { fetch: new ByteRateQuota(options.fetchQuotaBytesPerSecond) }),
  };
  const admission = new Admission(connectionsMax, options.connectionsPerIpMax ?? connectionsMax);
  const connections = new Set<Connection>();
  const serve = (socket: net.Socket): void => {
    if (isClosing || socket.destroyed) {
      socket.destroy();
      return;
    }
    const connection = new Connection(socket, context, limits, sasl, quotas);
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
  };
  const handle = (socket: net.Socket): void => {
    if (admission.admit(socket)) serve(socket);
  };
  const server =
    tlsContext === undefined
      ? net.createServer(handle)
      : tls.createServer(
          {
            ...tlsContext,
            requestCert: options.tls?.caFile !== undefined,
            rejectUnauthorized: options.tls?.caFile !== undefined,
            handshakeTimeout: limits.authTimeoutMs,
          },
          serve,
        );
  if (tlsContext !== undefined) {
    // Admission on the raw socket, before the handshake; `serve` then gets the TLS socket.
    server.prependListener('connection', (socket: net.Socket) => {
      admission.admit(socket);
    });
    // A failed handshake (expired or unknown client certificate, plain-text client) closes that socket only.
    server.on('tlsClientError', (_error, socket) => socket.destroy());
  }
  server.on('error', onError);
  const stopWatching =
    options.tls === undefined
      ? () => {}
      : watchTlsFiles(options.tls, server as tls.Server, options.tlsReloadIntervalMs ?? 5_000, onError);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 9092, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    stopWatching();
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
    get connectionsRefused() {
      return admission.refused;
    },
    groupMemberCount: (group) => groups.describeGroup(group)?.members.length ?? 0,
    handle,
    close() {
      closed ??= (async () => {
        isClosing = true;
        markClosing();
        stopWatching();
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
