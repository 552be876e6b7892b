/** `redisTransport()` options: every one bounded, every default stated. */
import { integerOption, matchingOption, urlOption } from '@herald/bus/internal';

/** `redisTransport()` options. */
export interface RedisTransportOptions {
  /** Server URL, `redis://[user:password@]host:port[/db]` or `rediss://` (default `redis://127.0.0.1:6379`). */
  readonly url?: string;
  /**
   * Prefix of every key this transport reads or writes (default `herald:`; letters, digits and
   * `.:_-`, at most 100 characters). Runs with different prefixes share nothing.
   */
  readonly keyPrefix?: string;
  /**
   * Streams per topic (1…256, default 4). A keyed message goes to the partition Kafka's murmur2
   * picks for its key, a keyless one round-robin. Every process using a topic must use the same
   * count (the first one to use the topic records it; a different count is a `ConfigurationError`).
   * It bounds a group's parallelism: at most this many members receive at once.
   */
  readonly partitions?: number;
  /** Largest message accepted, body + headers + key (1 B…512 MiB, Redis' bulk limit; default 1 MiB). */
  readonly messageBytesMax?: number;
  /**
   * Retention by length: each partition stream is trimmed to about this many entries on every
   * publish (`XADD … MAXLEN ~`; 1,000…1e9; default 1,000,000). Redis trims whole nodes of about 100
   * entries, so slightly more may be kept. Trimming ignores consumer groups: an entry a lagging group
   * has not read yet is gone all the same (see the README's retention section).
   */
  readonly streamLengthMax?: number;
  /**
   * Retention by age instead (`XADD … MINID ~ <now - age>`; 1 s…10 years): entries older than this
   * are trimmed on publish. When set, `streamLengthMax` is not applied.
   */
  readonly streamAgeMsMax?: number;
  /**
   * How long a member's partition leases and membership last without a heartbeat (1 s…10 min,
   * default 10 s): after a member crashed, its partitions and their pending entries (claimed with
   * `XAUTOCLAIM`) go to the other members after at most this long. The visibility timeout.
   */
  readonly visibilityTimeoutMs?: number;
  /** Interval of the lease heartbeat, which also rebalances partitions (10 ms…visibilityTimeoutMs / 3; default 250 ms). */
  readonly heartbeatMs?: number;
  /**
   * Longest `subscribe()` waits for the member's share of partitions once it joined a group that
   * others own (0…60 s, default 5 s); after it, subscribe resolves and the rest follows by heartbeat.
   */
  readonly rebalanceWaitMsMax?: number;
  /**
   * Longest a member giving a partition up waits for that partition's messages in flight to be
   * settled (0…60 s, default 5 s). After it the partition goes anyway; the new owner redelivers what
   * was unsettled.
   */
  readonly drainTimeoutMsMax?: number;
  /** Longest a blocking read waits for new entries before it looks again (10 ms…60 s, default 2 s). */
  readonly blockMs?: number;
  /**
   * Longest nack delay held in the process (1 s…24 h; default 15 min); longer delays are shortened
   * to it. A held message stays pending in Redis, so a crash returns it to the group.
   */
  readonly holdDelayMsMax?: number;
  /**
   * How long the first connection, and any command while the server is away, may wait before it
   * fails with a retriable `TransportError` (100 ms…5 min, default 10 s).
   */
  readonly connectTimeoutMs?: number;
  /** First reconnect delay (10 ms…10 s, default 100 ms); doubles, with jitter, on each failure. */
  readonly reconnectDelayMsMin?: number;
  /** Longest reconnect delay (≥ the minimum, at most 60 s; default 2 s). */
  readonly reconnectDelayMsMax?: number;
  /** `CLIENT SETNAME` of every connection (default `herald`), to find them in `CLIENT LIST`. */
  readonly connectionName?: string;
  /**
   * Refuse to open unless the server runs with `appendonly yes` and `appendfsync always` (default
   * false): only then does a resolved publish or ack survive a crash of the Redis server.
   */
  readonly requireFsyncAlways?: boolean;
}

/** Options with every default applied and checked. */
export interface ResolvedOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly partitions: number;
  readonly messageBytesMax: number;
  readonly streamLengthMax: number;
  readonly streamAgeMsMax: number | undefined;
  readonly visibilityTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly rebalanceWaitMsMax: number;
  readonly drainTimeoutMsMax: number;
  readonly blockMs: number;
  readonly holdDelayMsMax: number;
  readonly connectTimeoutMs: number;
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
  readonly connectionName: string;
  readonly requireFsyncAlways: boolean;
}

/** Default URL: a local server on the default port. */
export const DEFAULT_URL = 'redis://127.0.0.1:6379';
/** Most partitions per topic. */
export const PARTITIONS_MAX = 256;
/** Redis' `proto-max-bulk-len` default (512 MiB): the largest value one command may carry. */
export const MESSAGE_BYTES_MAX = 512 * 1024 * 1024;
const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const PREFIX_LEGAL = /^[A-Za-z0-9.:_-]{0,100}$/;
const NAME_LEGAL = /^[A-Za-z0-9._-]{1,100}$/;
/** Starts every configuration error message. */
const OWNER = 'redisTransport';

/** Applies defaults and throws a {@link ConfigurationError} naming the first bad option. */
export function resolveOptions(options: RedisTransportOptions): ResolvedOptions {
  const url = urlOption(OWNER, 'url', options.url ?? DEFAULT_URL, ['redis', 'rediss'], DEFAULT_URL);
  const keyPrefix = matchingOption(
    OWNER,
    'keyPrefix',
    options.keyPrefix ?? 'herald:',
    PREFIX_LEGAL,
    'at most 100 characters of A-Z a-z 0-9 . : _ -',
  );
  const connectionName = matchingOption(
    OWNER,
    'connectionName',
    options.connectionName ?? 'herald',
    NAME_LEGAL,
    '1 to 100 characters of A-Z a-z 0-9 . _ -',
  );
  const visibilityTimeoutMs = integerOption(
    OWNER,
    'visibilityTimeoutMs',
    options.visibilityTimeoutMs,
    10 * SECOND_MS,
    SECOND_MS,
    10 * MINUTE_MS,
  );
  const reconnectDelayMsMin = integerOption(
    OWNER,
    'reconnectDelayMsMin',
    options.reconnectDelayMsMin,
    100,
    10,
    10 * SECOND_MS,
  );
  return {
    url,
    keyPrefix,
    partitions: integerOption(OWNER, 'partitions', options.partitions, 4, 1, PARTITIONS_MAX),
    messageBytesMax: integerOption(
      OWNER,
      'messageBytesMax',
      options.messageBytesMax,
      1024 * 1024,
      1,
      MESSAGE_BYTES_MAX,
    ),
    streamLengthMax: integerOption(OWNER, 'streamLengthMax', options.streamLengthMax, 1_000_000, 1_000, 1e9),
    streamAgeMsMax:
      options.streamAgeMsMax === undefined
        ? undefined
        : integerOption(
            OWNER,
            'streamAgeMsMax',
            options.streamAgeMsMax,
            0,
            SECOND_MS,
            10 * 365 * 24 * 60 * MINUTE_MS,
          ),
    visibilityTimeoutMs,
    heartbeatMs: integerOption(
      OWNER,
      'heartbeatMs',
      options.heartbeatMs,
      250,
      10,
      Math.floor(visibilityTimeoutMs / 3),
    ),
    rebalanceWaitMsMax: integerOption(
      OWNER,
      'rebalanceWaitMsMax',
      options.rebalanceWaitMsMax,
      5 * SECOND_MS,
      0,
      MINUTE_MS,
    ),
    drainTimeoutMsMax: integerOption(
      OWNER,
      'drainTimeoutMsMax',
      options.drainTimeoutMsMax,
      5 * SECOND_MS,
      0,
      MINUTE_MS,
    ),
    blockMs: integerOption(OWNER, 'blockMs', options.blockMs, 2 * SECOND_MS, 10, MINUTE_MS),
    holdDelayMsMax: integerOption(
      OWNER,
      'holdDelayMsMax',
      options.holdDelayMsMax,
      15 * MINUTE_MS,
      SECOND_MS,
      24 * 60 * MINUTE_MS,
    ),
    connectTimeoutMs: integerOption(
      OWNER,
      'connectTimeoutMs',
      options.connectTimeoutMs,
      10 * SECOND_MS,
      100,
      5 * MINUTE_MS,
    ),
    reconnectDelayMsMin,
    reconnectDelayMsMax: integerOption(
      OWNER,
      'reconnectDelayMsMax',
      options.reconnectDelayMsMax,
      Math.max(2 * SECOND_MS, reconnectDelayMsMin),
      reconnectDelayMsMin,
      MINUTE_MS,
    ),
    connectionName,
    requireFsyncAlways: options.requireFsyncAlways ?? false,
  };
}
