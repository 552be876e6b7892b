/** `kafkaTransport()` options: every one bounded, every default stated. */

import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { ConfigurationError, consoleLogger, type Logger } from '@herald/bus';
import { integerFromEnv, matchingOption, numberOption } from '@herald/bus/internal';
import type { SASLOptions } from '@platformatic/kafka';

/** First wait of a subscription's retries while its broker is unreachable; doubles up to `retryDelayMsMax`. */
export const RETRY_DELAY_MS_FIRST = 100;

/** A subscription logs at most one warning per this interval (the next one counts those suppressed). */
export const WARNING_INTERVAL_MS = 30_000;

/** Options of {@link kafkaTransport}. */
export interface KafkaTransportOptions {
  /** Bootstrap brokers as `host:port` (at least one). */
  readonly brokers: readonly string[];
  /** Client id sent to the brokers, shown in their logs (default `herald`). */
  readonly clientId?: string;
  /** SASL, passed through to `@platformatic/kafka` (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER). */
  readonly sasl?: SASLOptions;
  /** TLS, passed through to `@platformatic/kafka` (`node:tls` connect options; `{}` for plain TLS). */
  readonly tls?: TlsOptions;
  /**
   * Partitions of topics this transport creates (1…10,000; default: the broker's default, e.g.
   * `herald serve --partitions`). Existing topics are used as they are.
   */
  readonly partitions?: number;
  /** Create a missing topic on first publish or subscribe (default true). */
  readonly createTopics?: boolean;
  /**
   * Longest a published message waits for others to share its produce request (0…1000 ms;
   * default 2 ms). One produce request is in flight at a time, so under load batches grow by
   * themselves while the previous one is acknowledged.
   */
  readonly lingerMs?: number;
  /** Most bytes of messages in one produce request (64 KiB…64 MiB; default 4 MiB; a larger single message still goes alone). */
  readonly batchBytesMax?: number;
  /**
   * Idempotent producer (default true): the broker hands out a producer id and Kafka de-duplicates
   * retried batches. Set false for brokers that refuse InitProducerId.
   */
  readonly idempotent?: boolean;
  /** Largest message `publish` accepts (body + headers + key; 1 KiB…64 MiB; default 1,000,000, under Kafka's 1 MiB `message.max.bytes`). */
  readonly messageBytesMax?: number;
  /** Group session timeout (6 s…5 min; default 10 s): how soon a dead member's partitions move. */
  readonly sessionTimeoutMs?: number;
  /** Heartbeat interval (100 ms…session/3; default 1 s): how soon a member hears of a rebalance. */
  readonly heartbeatIntervalMs?: number;
  /** Rebalance timeout (≥ the session timeout, at most 10 min; default 30 s). */
  readonly rebalanceTimeoutMs?: number;
  /**
   * On a rebalance, how long the member waits for its in-flight handlers to settle before it
   * commits and rejoins (0…session/2; default min(5 s, session/2)). What is still running then is
   * abandoned: its messages are redelivered to the partitions' next owner.
   */
  readonly drainTimeoutMs?: number;
  /** Fetch long-poll (10…10,000 ms; default 500 ms). */
  readonly fetchWaitMsMax?: number;
  /** Bytes asked per partition per fetch (64 KiB…64 MiB; default 4 MiB; a larger batch still comes whole). */
  readonly fetchPartitionBytesMax?: number;
  /**
   * Records read ahead and not yet committable, per assigned partition (64…100,000; default
   * 4,096). A partition whose window is full is not fetched until its oldest message is acked.
   */
  readonly partitionWindowMax?: number;
  /** Longest nack delay (1 s…1 h; default 15 min); longer ones are shortened to it. */
  readonly nackDelayMsMax?: number;
  /**
   * Acks are committed at most this often (0…10,000 ms; default 100 ms), and at once on a
   * rebalance and on close. A crash redelivers what was acked in the last interval.
   */
  readonly commitIntervalMs?: number;
  /** Request timeout of the client (1 s…5 min; default 30 s). */
  readonly requestTimeoutMs?: number;
  /** Connect timeout of the client (100 ms…5 min; default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Delay between the client's own retries of one failed request (10 ms…30 s; default 250 ms). */
  readonly retryDelayMs?: number;
  /**
   * Longest wait between a subscription's attempts to fetch, join or read positions while its
   * broker is unreachable (1 s…10 min; default 30 s). The waits start at 100 ms and double up to
   * this bound, each drawn from [d/2, d] (jitter), and start again at 100 ms after a success.
   * Such failures are logged at most once per 30 s per subscription, with the count suppressed.
   */
  readonly retryDelayMsMax?: number;
  /**
   * How long `close()` waits for the broker (the last commit, leaving the group) before it drops
   * the connections anyway (0…60 s; default 5 s). Closing never waits on a broker that is gone:
   * pending retries are cancelled at once.
   */
  readonly closeTimeoutMs?: number;
  /** Where warnings go (broker unreachable, commits failed…); default `consoleLogger()`. */
  readonly logger?: Logger;
}

/** Options with every default applied. */
export interface ResolvedOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly sasl: SASLOptions | undefined;
  readonly tls: TlsOptions | undefined;
  readonly partitions: number;
  readonly createTopics: boolean;
  readonly lingerMs: number;
  readonly batchBytesMax: number;
  readonly idempotent: boolean;
  readonly messageBytesMax: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly fetchWaitMsMax: number;
  readonly fetchPartitionBytesMax: number;
  readonly partitionWindowMax: number;
  readonly nackDelayMsMax: number;
  readonly commitIntervalMs: number;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly retryDelayMs: number;
  readonly retryDelayMsMax: number;
  readonly closeTimeoutMs: number;
  readonly logger: Logger;
}

/** Starts every configuration error message. */
const OWNER = 'kafkaTransport';

/** Checks `options` and applies the defaults; throws `ConfigurationError` naming the bad option. */
export function resolveOptions(options: KafkaTransportOptions): ResolvedOptions {
  const brokers = options.brokers;
  if (!Array.isArray(brokers) || brokers.length === 0) {
    throw new ConfigurationError('kafkaTransport: brokers must list at least one host:port');
  }
  for (const broker of brokers) {
    if (typeof broker !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(broker)) {
      throw new ConfigurationError(`kafkaTransport: broker ${JSON.stringify(broker)} is not host:port`);
    }
  }
  const clientId = matchingOption(
    OWNER,
    'clientId',
    options.clientId ?? 'herald',
    /^[A-Za-z0-9._-]{1,128}$/,
    '1-128 characters from A-Z a-z 0-9 . _ -',
  );
  const sessionTimeoutMs = numberOption(
    OWNER,
    'sessionTimeoutMs',
    options.sessionTimeoutMs,
    10_000,
    6_000,
    300_000,
  );
  return {
    brokers: [...brokers],
    clientId,
    sasl: options.sasl,
    tls: options.tls,
    partitions:
      options.partitions === undefined
        ? -1
        : numberOption(OWNER, 'partitions', options.partitions, 1, 1, 10_000),
    createTopics: options.createTopics ?? true,
    lingerMs: numberOption(OWNER, 'lingerMs', options.lingerMs, 2, 0, 1_000),
    batchBytesMax: numberOption(
      OWNER,
      'batchBytesMax',
      options.batchBytesMax,
      4 * 1024 * 1024,
      64 * 1024,
      64 * 1024 * 1024,
    ),
    idempotent: options.idempotent ?? true,
    messageBytesMax: numberOption(
      OWNER,
      'messageBytesMax',
      options.messageBytesMax,
      1_000_000,
      1024,
      64 * 1024 * 1024,
    ),
    sessionTimeoutMs,
    heartbeatIntervalMs: numberOption(
      OWNER,
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs,
      Math.min(1_000, Math.floor(sessionTimeoutMs / 3)),
      100,
      Math.floor(sessionTimeoutMs / 3),
    ),
    rebalanceTimeoutMs: numberOption(
      OWNER,
      'rebalanceTimeoutMs',
      options.rebalanceTimeoutMs,
      Math.max(30_000, sessionTimeoutMs),
      sessionTimeoutMs,
      600_000,
    ),
    drainTimeoutMs: numberOption(
      OWNER,
      'drainTimeoutMs',
      options.drainTimeoutMs,
      Math.min(5_000, Math.floor(sessionTimeoutMs / 2)),
      0,
      Math.floor(sessionTimeoutMs / 2),
    ),
    fetchWaitMsMax: numberOption(OWNER, 'fetchWaitMsMax', options.fetchWaitMsMax, 500, 10, 10_000),
    fetchPartitionBytesMax: numberOption(
      OWNER,
      'fetchPartitionBytesMax',
      options.fetchPartitionBytesMax,
      4 * 1024 * 1024,
      64 * 1024,
      64 * 1024 * 1024,
    ),
    partitionWindowMax: numberOption(
      OWNER,
      'partitionWindowMax',
      options.partitionWindowMax,
      4_096,
      64,
      100_000,
    ),
    nackDelayMsMax: numberOption(
      OWNER,
      'nackDelayMsMax',
      options.nackDelayMsMax,
      15 * 60_000,
      1_000,
      3_600_000,
    ),
    commitIntervalMs: numberOption(OWNER, 'commitIntervalMs', options.commitIntervalMs, 100, 0, 10_000),
    requestTimeoutMs: numberOption(
      OWNER,
      'requestTimeoutMs',
      options.requestTimeoutMs,
      30_000,
      1_000,
      300_000,
    ),
    connectTimeoutMs: numberOption(OWNER, 'connectTimeoutMs', options.connectTimeoutMs, 5_000, 100, 300_000),
    retryDelayMs: numberOption(OWNER, 'retryDelayMs', options.retryDelayMs, 250, 10, 30_000),
    retryDelayMsMax: numberOption(OWNER, 'retryDelayMsMax', options.retryDelayMsMax, 30_000, 1_000, 600_000),
    closeTimeoutMs: numberOption(OWNER, 'closeTimeoutMs', options.closeTimeoutMs, 5_000, 0, 60_000),
    logger: options.logger ?? consoleLogger(),
  };
}

function tlsFromEnv(env: NodeJS.ProcessEnv): { tls?: TlsOptions } {
  const caFile = env.HERALD_KAFKA_TLS_CA;
  if (caFile === undefined || caFile === '') return env.HERALD_KAFKA_TLS === '1' ? { tls: {} } : {};
  try {
    return { tls: { ca: readFileSync(caFile) } };
  } catch (error) {
    throw new ConfigurationError(
      `HERALD_KAFKA_TLS_CA=${caFile}: cannot read it (${(error as Error).message}); give the PEM file of the broker's CA`,
    );
  }
}

/**
 * Options from the environment: `HERALD_KAFKA_BROKERS` (comma-separated host:port, required),
 * `HERALD_KAFKA_CLIENT_ID`, `HERALD_KAFKA_PARTITIONS`, `HERALD_KAFKA_SESSION_TIMEOUT_MS`,
 * `HERALD_KAFKA_SASL_MECHANISM` + `HERALD_KAFKA_SASL_USERNAME` + `HERALD_KAFKA_SASL_PASSWORD`,
 * `HERALD_KAFKA_TLS=1`, `HERALD_KAFKA_TLS_CA` (PEM file of the CA that signed the broker's
 * certificate; implies TLS). `herald` CLI's `--broker` reads the same variables.
 */
export function kafkaOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaTransportOptions {
  const brokers = (env.HERALD_KAFKA_BROKERS ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
  if (brokers.length === 0) {
    throw new ConfigurationError(
      'HERALD_TRANSPORT=kafka needs HERALD_KAFKA_BROKERS (host:port[,host:port…])',
    );
  }
  const number = (name: string) => integerFromEnv(env, name);
  const mechanism = env.HERALD_KAFKA_SASL_MECHANISM;
  const partitions = number('HERALD_KAFKA_PARTITIONS');
  const sessionTimeoutMs = number('HERALD_KAFKA_SESSION_TIMEOUT_MS');
  return {
    brokers,
    ...(env.HERALD_KAFKA_CLIENT_ID ? { clientId: env.HERALD_KAFKA_CLIENT_ID } : {}),
    ...(partitions === undefined ? {} : { partitions }),
    ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }),
    ...(mechanism
      ? {
          sasl: {
            mechanism: mechanism as SASLOptions['mechanism'],
            username: env.HERALD_KAFKA_SASL_USERNAME ?? '',
            password: env.HERALD_KAFKA_SASL_PASSWORD ?? '',
          },
        }
      : {}),
    ...tlsFromEnv(env),
  };
}
