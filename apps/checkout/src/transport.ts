/**
 * Which broker the checkout's services share, chosen by `HERALD_TRANSPORT`. Services never see
 * the choice: they get a bus. herald's `transportFromEnv` opens the transport; this adds the
 * checkout's broker directory, RabbitMQ run prefix and client names.
 *
 * - `embedded` (default): the durable broker inside this process, in `<data>/broker`. A data
 *   directory can be opened by one process only, so with it every service runs in one process
 *   (`npm start`); `npm run service -- <name>` works for one service at a time.
 * - `rabbitmq`: the RabbitMQ at `HERALD_RABBITMQ_URL` (default `amqp://guest:guest@127.0.0.1:5672`).
 *   Every exchange and queue of a run carries a prefix of its own, `HERALD_RABBITMQ_PREFIX` or one
 *   derived from the run's data directory, so runs never share groups, while the services of one
 *   run (`npm run service -- <name> --data DIR`, each its own process) meet on the same names.
 * - `redis`: the Redis at `HERALD_REDIS_URL` (default `redis://127.0.0.1:6379`), on Redis Streams.
 *   Every key of a run carries a prefix of its own, `HERALD_REDIS_PREFIX` or one derived from the
 *   run's data directory, like the RabbitMQ prefix.
 * - `nats`: the NATS JetStream server at `HERALD_NATS_URL` (default `nats://127.0.0.1:4222`). Every
 *   stream, consumer and lease bucket of a run carries a prefix of its own, `HERALD_NATS_PREFIX` or
 *   one derived from the run's data directory, like RabbitMQ's. Other `HERALD_NATS_*` settings are
 *   read by `natsOptionsFromEnv` in `@herald/transport-nats`.
 * - `kafka`: any Kafka-protocol broker at `HERALD_KAFKA_BROKERS` (comma-separated `host:port`),
 *   e.g. `herald serve`. Consumer groups and committed offsets live on the broker, so the services
 *   of one run, each its own process, share it. Topics and groups carry no run prefix: give each
 *   run its own broker (`herald serve --data DIR`). `HERALD_KAFKA_*` settings (SASL, TLS,
 *   partitions) are read by `kafkaOptionsFromEnv` in `@herald/transport-kafka`.
 * - `aws`: SNS + SQS (`HERALD_AWS_REGION`, `HERALD_AWS_ENDPOINT` for an emulator, credentials from
 *   the AWS SDK's default chain). Like RabbitMQ, every topic and queue of a run carries a prefix of
 *   its own, `HERALD_AWS_PREFIX` or one derived from the run's data directory.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import {
  ConfigurationError,
  transportFromEnv as heraldTransportFromEnv,
  type Transport,
  transportNameFromEnv,
} from 'herald';

export { DEFAULT_RABBITMQ_URL } from 'herald';

/** Transports the checkout can run on today (herald's `memory` keeps nothing across a restart). */
export const TRANSPORT_NAMES = ['embedded', 'rabbitmq', 'kafka', 'nats', 'redis', 'aws'] as const;

/** Options of {@link transportFromEnv}. */
export interface TransportFromEnvOptions {
  /** The run's data directory; the embedded broker lives in `<dataDir>/broker`. */
  readonly dataDir: string;
  /** Environment to read (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Opens the transport named by `HERALD_TRANSPORT` (default `embedded`) through herald's
 * `transportFromEnv`, which loads the Kafka, RabbitMQ or NATS package only when chosen; the checkout
 * adds its broker directory, its RabbitMQ and NATS run prefixes and its client names.
 */
export async function transportFromEnv(options: TransportFromEnvOptions): Promise<Transport> {
  const env = options.env ?? process.env;
  const name = transportNameFromEnv(env);
  if (!(TRANSPORT_NAMES as readonly string[]).includes(name)) {
    throw new ConfigurationError(
      `HERALD_TRANSPORT=${name} is not available: the checkout runs on ${TRANSPORT_NAMES.join(', ')}; ` +
        'unset HERALD_TRANSPORT to use the embedded broker',
    );
  }
  const clientName = `herald-checkout-${process.pid}`;
  try {
    return await heraldTransportFromEnv({
      env,
      // One partition per topic: per-key order and handler concurrency are unchanged, and every
      // partition is a log to fsync; on this 2-core VM (fdatasync ≈ 3 ms) four per topic doubled
      // the accept latency of the default load.
      embedded: { dir: join(options.dataDir, 'broker'), partitions: 1 },
      // HERALD_KAFKA_CLIENT_ID, when set, still names the client.
      kafka: env.HERALD_KAFKA_CLIENT_ID ? {} : { clientId: clientName },
      rabbitMq: { exchangePrefix: rabbitMqPrefix(env, options.dataDir), connectionName: clientName },
      redis: { keyPrefix: redisPrefix(env, options.dataDir), connectionName: clientName },
      aws: { namePrefix: awsPrefix(env, options.dataDir) },
      nats: { prefix: natsPrefix(env, options.dataDir), connectionName: clientName },
    });
  } catch (error) {
    if ((error as { reason?: string }).reason === 'BROKER_LOCKED') {
      throw new ConfigurationError(
        `${(error as Error).message}. An embedded broker's data directory can be opened by one process ` +
          'only: run every service in one process with `npm start`, give this process its own ' +
          'directory with --data, or share a broker between processes with HERALD_TRANSPORT=rabbitmq',
        { cause: error },
      );
    }
    throw error;
  }
}

/** 12 hex digits of the run's absolute data directory: the same in every process of one run. */
function runDigest(dataDir: string): string {
  return createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12);
}

/**
 * The name prefix of a run on RabbitMQ: `HERALD_RABBITMQ_PREFIX`, or `herald.checkout-<hash>.`
 * from the absolute data directory, so every process of one run agrees on it and two runs never do.
 */
export function rabbitMqPrefix(env: Readonly<Record<string, string | undefined>>, dataDir: string): string {
  return env.HERALD_RABBITMQ_PREFIX || `herald.checkout-${runDigest(dataDir)}.`;
}

/**
 * The key prefix of a run on Redis: `HERALD_REDIS_PREFIX`, or `herald:checkout-<hash>:` from the
 * absolute data directory, so every process of one run agrees on it and two runs never do.
 */
export function redisPrefix(env: Readonly<Record<string, string | undefined>>, dataDir: string): string {
  return env.HERALD_REDIS_PREFIX || `herald:checkout-${runDigest(dataDir)}:`;
}

/**
 * The name prefix of a run on AWS: `HERALD_AWS_PREFIX`, or `hc-<hash>-` from the absolute data
 * directory (SNS and SQS names allow no dots, and SQS queue names are short).
 */
export function awsPrefix(env: Readonly<Record<string, string | undefined>>, dataDir: string): string {
  return env.HERALD_AWS_PREFIX || `hc-${runDigest(dataDir)}-`;
}

/**
 * The name prefix of a run on NATS: `HERALD_NATS_PREFIX`, or `herald-ck-<hash>` from the absolute
 * data directory (NATS prefixes have at most 32 characters and no dots).
 */
export function natsPrefix(env: Readonly<Record<string, string | undefined>>, dataDir: string): string {
  return env.HERALD_NATS_PREFIX || `herald-ck-${runDigest(dataDir)}`;
}

/**
 * After a complete run: deletes what the run declared on RabbitMQ, NATS or AWS (every service ran in
 * this process, so that is all of it). Does nothing on other transports.
 */
export async function deleteRunTopology(transport: Transport): Promise<boolean> {
  const broker = transport as Partial<{ deleteTopology(): Promise<void> }>;
  if ((transport.name === 'rabbitmq' || transport.name === 'aws') && broker.deleteTopology !== undefined) {
    await broker.deleteTopology();
    return true;
  }
  const nats = transport as Partial<{ deleteStreams(): Promise<void> }>;
  if (transport.name === 'nats' && nats.deleteStreams !== undefined) {
    await nats.deleteStreams();
    return true;
  }
  return false;
}
