/** `natsTransport()` options: every one bounded, every default stated. */
import { ConfigurationError, IN_FLIGHT_MAX } from '@herald/bus';
import { integerFromEnv, integerOption, matchingOption } from '@herald/bus/internal';

/** Options of {@link natsTransport}. */
export interface NatsTransportOptions {
  /**
   * NATS server URLs, e.g. `nats://127.0.0.1:4222` or a list of cluster members (default
   * `nats://127.0.0.1:4222`). Credentials may be given as `user`/`pass` or `token`; they never
   * appear in errors.
   */
  readonly servers?: string | readonly string[];
  /** User name for user/password authentication. */
  readonly user?: string;
  /** Password for user/password authentication. */
  readonly pass?: string;
  /** Token for token authentication. */
  readonly token?: string;
  /**
   * First token of every subject and prefix of every stream, consumer and bucket name this
   * transport creates (default `herald`; 1-32 characters from `A-Z a-z 0-9 _ -`). Publishers and
   * consumers of a topic must agree on it.
   */
  readonly prefix?: string;
  /**
   * Partition subjects per topic (1…64; default 4): keys are spread over them by Kafka's murmur2,
   * and each partition has one active reader per group, so per-key order holds across processes.
   * Publishers and consumers of a topic must agree on it.
   */
  readonly partitions?: number;
  /** Replicas of each stream (1…5; default 1, the single-server setup). */
  readonly replicas?: number;
  /** Retention of each topic's stream by size (1 MiB…1 TiB; default 1 GiB): the oldest messages go first. */
  readonly streamBytesMax?: number;
  /** Retention of each topic's stream by age (1 min…365 days; default 7 days). */
  readonly streamAgeMsMax?: number;
  /**
   * JetStream de-duplication window (0…1 day; default 2 min): a message whose `Nats-Msg-Id` (a
   * digest of its CloudEvents `ce_id`, key, headers and body) the stream saw within the window is
   * acknowledged but not stored again, so a publish retried after a lost acknowledgement is not
   * duplicated, while a redriven dead letter (same id, one header more) is stored. 0 sends no
   * message id (`features.publishDeduplication` is then absent).
   */
  readonly duplicateWindowMs?: number;
  /**
   * Largest message accepted by `publish` (body + headers + key; default 1,000,000 bytes, at most
   * the server's `max_payload` less 16 KiB for the NATS header block).
   */
  readonly messageBytesMax?: number;
  /**
   * Messages JetStream delivers ahead, unacknowledged, per group and partition (1…4096; default
   * 512): the consumer's `max_ack_pending`, and the bound of each partition's in-process window.
   */
  readonly ackPendingMax?: number;
  /**
   * How long JetStream waits for an ack before redelivering (1 s…12 h; default 30 s). A handler
   * running longer sees no duplicate here (the transport recognises the redelivery), but it counts
   * against `deliveriesMax`.
   */
  readonly ackWaitMs?: number;
  /**
   * Deliveries JetStream makes of one message before it gives up on it (-1 for no limit, the
   * default, or 2…1000): the bus dead-letters by its own retry policy, and a message JetStream
   * stops delivering would block its key until the partition moves to another member.
   */
  readonly deliveriesMax?: number;
  /**
   * Lease of a group member on its partitions (1 s…60 s; default 5 s): a member that stops
   * renewing (a crash) loses them after this long and the others take them over. Every process of
   * a group must use the same value (it names the lease bucket).
   */
  readonly leaseMs?: number;
  /**
   * How long a member handing a partition to another one waits for its running handlers before it
   * returns their messages anyway (100 ms…5 min; default 10 s).
   */
  readonly handoverMsMax?: number;
  /** How long creation waits for the server (100 ms…5 min; default 10 s). */
  readonly connectTimeoutMs?: number;
  /**
   * How long a JetStream request (publish acknowledgement, stream and consumer management, lease
   * update) waits, including while reconnecting (100 ms…5 min; default 10 s).
   */
  readonly requestTimeoutMs?: number;
  /** Delay between reconnect attempts (10 ms…10 s; default 250 ms), forever. */
  readonly reconnectDelayMs?: number;
  /** Name shown for the connection in the server's monitoring (default `herald`). */
  readonly connectionName?: string;
}

/** Options with every default applied and checked. */
export interface ResolvedOptions {
  readonly servers: readonly string[];
  readonly user: string | undefined;
  readonly pass: string | undefined;
  readonly token: string | undefined;
  readonly prefix: string;
  readonly partitions: number;
  readonly replicas: number;
  readonly streamBytesMax: number;
  readonly streamAgeMsMax: number;
  readonly duplicateWindowMs: number;
  readonly messageBytesMax: number;
  readonly ackPendingMax: number;
  readonly ackWaitMs: number;
  readonly deliveriesMax: number;
  readonly leaseMs: number;
  readonly handoverMsMax: number;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly reconnectDelayMs: number;
  readonly connectionName: string;
}

/** Default server. */
export const DEFAULT_SERVER = 'nats://127.0.0.1:4222';
/** Most partitions per topic. */
export const PARTITIONS_MAX = 64;
/** Default `messageBytesMax`. */
export const MESSAGE_BYTES_DEFAULT = 1_000_000;
/** Room kept below the server's `max_payload` for the NATS header block. */
export const HEADER_BYTES_RESERVED = 16 * 1024;
const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const DAY_MS = 24 * 60 * MINUTE_MS;
const PREFIX_LEGAL = /^[A-Za-z0-9_-]{1,32}$/;
/** Starts every configuration error message. */
const OWNER = 'natsTransport';

/** Applies defaults and throws a {@link ConfigurationError} naming the first bad option. */
export function resolveOptions(options: NatsTransportOptions): ResolvedOptions {
  const servers =
    typeof options.servers === 'string' ? [options.servers] : [...(options.servers ?? [DEFAULT_SERVER])];
  if (servers.length === 0 || servers.some((server) => typeof server !== 'string' || server === '')) {
    throw new ConfigurationError('natsTransport: servers must list URLs such as nats://127.0.0.1:4222');
  }
  const prefix = matchingOption(
    OWNER,
    'prefix',
    options.prefix ?? 'herald',
    PREFIX_LEGAL,
    '1-32 characters from A-Z a-z 0-9 _ -',
  );
  const deliveriesMax = integerOption(OWNER, 'deliveriesMax', options.deliveriesMax, -1, -1, 1000);
  if (deliveriesMax === 0 || deliveriesMax === 1) {
    throw new ConfigurationError(
      'natsTransport: deliveriesMax must be -1 (no limit) or 2 to 1000: a nacked message needs a redelivery',
    );
  }
  return {
    servers,
    user: options.user,
    pass: options.pass,
    token: options.token,
    prefix,
    partitions: integerOption(OWNER, 'partitions', options.partitions, 4, 1, PARTITIONS_MAX),
    replicas: integerOption(OWNER, 'replicas', options.replicas, 1, 1, 5),
    streamBytesMax: integerOption(OWNER, 'streamBytesMax', options.streamBytesMax, 2 ** 30, 2 ** 20, 2 ** 40),
    streamAgeMsMax: integerOption(
      OWNER,
      'streamAgeMsMax',
      options.streamAgeMsMax,
      7 * DAY_MS,
      MINUTE_MS,
      365 * DAY_MS,
    ),
    duplicateWindowMs: integerOption(
      OWNER,
      'duplicateWindowMs',
      options.duplicateWindowMs,
      2 * MINUTE_MS,
      0,
      DAY_MS,
    ),
    messageBytesMax: integerOption(
      OWNER,
      'messageBytesMax',
      options.messageBytesMax,
      MESSAGE_BYTES_DEFAULT,
      1,
      64 * 2 ** 20,
    ),
    ackPendingMax: integerOption(OWNER, 'ackPendingMax', options.ackPendingMax, 512, 1, IN_FLIGHT_MAX),
    ackWaitMs: integerOption(
      OWNER,
      'ackWaitMs',
      options.ackWaitMs,
      30 * SECOND_MS,
      SECOND_MS,
      12 * 60 * MINUTE_MS,
    ),
    deliveriesMax,
    leaseMs: integerOption(OWNER, 'leaseMs', options.leaseMs, 5 * SECOND_MS, SECOND_MS, MINUTE_MS),
    handoverMsMax: integerOption(
      OWNER,
      'handoverMsMax',
      options.handoverMsMax,
      10 * SECOND_MS,
      100,
      5 * MINUTE_MS,
    ),
    connectTimeoutMs: integerOption(
      OWNER,
      'connectTimeoutMs',
      options.connectTimeoutMs,
      10 * SECOND_MS,
      100,
      5 * MINUTE_MS,
    ),
    requestTimeoutMs: integerOption(
      OWNER,
      'requestTimeoutMs',
      options.requestTimeoutMs,
      10 * SECOND_MS,
      100,
      5 * MINUTE_MS,
    ),
    reconnectDelayMs: integerOption(
      OWNER,
      'reconnectDelayMs',
      options.reconnectDelayMs,
      250,
      10,
      10 * SECOND_MS,
    ),
    connectionName: options.connectionName ?? 'herald',
  };
}

/**
 * `natsTransport()` options from the environment, for `HERALD_TRANSPORT=nats`: `HERALD_NATS_URL`
 * (comma-separated servers; default {@link DEFAULT_SERVER}), `HERALD_NATS_USER`,
 * `HERALD_NATS_PASS`, `HERALD_NATS_TOKEN`, `HERALD_NATS_PREFIX`, and the integers
 * `HERALD_NATS_PARTITIONS`, `HERALD_NATS_LEASE_MS` and `HERALD_NATS_ACK_WAIT_MS`. Throws a
 * {@link ConfigurationError} for a number that is not an integer (ranges are checked on open).
 */
export function natsOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): NatsTransportOptions {
  const servers = (env.HERALD_NATS_URL || DEFAULT_SERVER)
    .split(',')
    .map((server) => server.trim())
    .filter((server) => server.length > 0);
  const number = (name: string) => integerFromEnv(env, name);
  const text = (name: string): string | undefined => (env[name] ? env[name] : undefined);
  const options: Record<string, unknown> = {
    servers,
    user: text('HERALD_NATS_USER'),
    pass: text('HERALD_NATS_PASS'),
    token: text('HERALD_NATS_TOKEN'),
    prefix: text('HERALD_NATS_PREFIX'),
    partitions: number('HERALD_NATS_PARTITIONS'),
    leaseMs: number('HERALD_NATS_LEASE_MS'),
    ackWaitMs: number('HERALD_NATS_ACK_WAIT_MS'),
  };
  for (const name of Object.keys(options)) if (options[name] === undefined) delete options[name];
  return options as NatsTransportOptions;
}
