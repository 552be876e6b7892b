/**
 * The transport named by `HERALD_TRANSPORT`, so one build runs on any broker by configuration:
 *
 * - `embedded` (default when unset): the durable broker in this process (`HERALD_DATA_DIR`);
 * - `kafka`: `@herald/transport-kafka` on `HERALD_KAFKA_BROKERS` (and the other `HERALD_KAFKA_*`
 *   settings its `kafkaOptionsFromEnv` reads);
 * - `rabbitmq`: `@herald/transport-rabbitmq` on `HERALD_RABBITMQ_URL`
 *   (default `amqp://guest:guest@127.0.0.1:5672`);
 * - `redis`: `@herald/transport-redis` on `HERALD_REDIS_URL` (default `redis://127.0.0.1:6379`),
 *   keys prefixed with `HERALD_REDIS_PREFIX` (default `herald:`);
 * - `aws`: `@herald/transport-aws` on SNS + SQS, in `HERALD_AWS_REGION` (else the SDK's
 *   `AWS_REGION`), at `HERALD_AWS_ENDPOINT` when set (an emulator such as moto), with names prefixed
 *   by `HERALD_AWS_PREFIX` (default `herald-`); credentials come from the AWS SDK's default chain;
 * - `nats`: `@herald/transport-nats` on `HERALD_NATS_URL` (default `nats://127.0.0.1:4222`; a
 *   comma-separated list for a cluster) and the other `HERALD_NATS_*` settings its
 *   `natsOptionsFromEnv` reads;
 * - `memory`: the in-process memory transport (tests; nothing survives the process).
 *
 * The Kafka, RabbitMQ and NATS packages are optional peer dependencies of `herald`, loaded only when
 * chosen (a dynamic import), so an application on the embedded broker never loads amqplib or the
 * Kafka client. A chosen package that is not installed is a `ConfigurationError` saying what to
 * install.
 */
import { type EmbeddedTransportOptions, embeddedTransport } from '@herald/broker';
import {
  ConfigurationError,
  memoryTransport,
  type TopicPatternsFeature,
  type Transport,
  type TransportFeatures,
} from '@herald/bus';
import { lazyTransport } from './lazy-transport.ts';

/** The values `HERALD_TRANSPORT` accepts. */
export const TRANSPORT_NAMES = ['embedded', 'kafka', 'rabbitmq', 'nats', 'redis', 'aws', 'memory'] as const;

/** One of {@link TRANSPORT_NAMES}. */
export type TransportName = (typeof TRANSPORT_NAMES)[number];

/** The RabbitMQ broker used when `HERALD_RABBITMQ_URL` is unset. */
export const DEFAULT_RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** The Redis server used when `HERALD_REDIS_URL` is unset. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** The NATS server used when `HERALD_NATS_URL` is unset. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** The package each broker transport lives in. */
export const TRANSPORT_PACKAGES = {
  kafka: '@herald/transport-kafka',
  rabbitmq: '@herald/transport-rabbitmq',
  redis: '@herald/transport-redis',
  aws: '@herald/transport-aws',
  nats: '@herald/transport-nats',
} as const;

/** Loads a module by specifier: `(specifier) => import(specifier)` unless a test replaces it. */
export type ImportPackage = (specifier: string) => Promise<unknown>;

/** Options of {@link transportFromEnv}. */
export interface TransportFromEnvOptions {
  /** Environment to read (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Options of the embedded broker; `dir` defaults to `HERALD_DATA_DIR` or `./.herald`. */
  readonly embedded?: EmbeddedTransportOptions;
  /** `kafkaTransport()` options laid over those from the environment (e.g. `clientId`). */
  readonly kafka?: Readonly<Record<string, unknown>>;
  /** `rabbitMqTransport()` options laid over `{ url }` from the environment (e.g. `exchangePrefix`). */
  readonly rabbitMq?: Readonly<Record<string, unknown>>;
  /** `redisTransport()` options laid over `{ url, keyPrefix }` from the environment (e.g. `partitions`). */
  readonly redis?: Readonly<Record<string, unknown>>;
  /** `awsTransport()` options laid over those from the environment (e.g. `namePrefix`). */
  readonly aws?: Readonly<Record<string, unknown>>;
  /** `natsTransport()` options laid over `{ servers }` from the environment (e.g. `prefix`). */
  readonly nats?: Readonly<Record<string, unknown>>;
  /** How transport packages are loaded; a seam for tests (default: a dynamic `import`). */
  readonly importPackage?: ImportPackage;
}

/**
 * The transport `HERALD_TRANSPORT` names, `embedded` when it is unset or empty. Throws
 * `ConfigurationError` listing the valid values for anything else.
 */
export function transportNameFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): TransportName {
  const value = env.HERALD_TRANSPORT;
  if (value === undefined || value === '') return 'embedded';
  if ((TRANSPORT_NAMES as readonly string[]).includes(value)) return value as TransportName;
  throw new ConfigurationError(
    `HERALD_TRANSPORT=${value} is not a transport: use one of ${TRANSPORT_NAMES.join(', ')} (unset means embedded)`,
  );
}

/**
 * Opens the transport `HERALD_TRANSPORT` names, loading its package on demand. Rejects with
 * `ConfigurationError` for an unknown name, missing settings (`HERALD_KAFKA_BROKERS`) or a
 * transport package that is not installed.
 */
export async function transportFromEnv(options: TransportFromEnvOptions = {}): Promise<Transport> {
  const env = options.env ?? process.env;
  const name = transportNameFromEnv(env);
  switch (name) {
    case 'embedded':
      return embeddedTransport({
        ...options.embedded,
        dir: options.embedded?.dir ?? env.HERALD_DATA_DIR ?? './.herald',
      });
    case 'memory':
      return memoryTransport();
    case 'kafka': {
      const kafka = (await load(name, options.importPackage)) as {
        kafkaOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): Record<string, unknown>;
        kafkaTransport(options: Record<string, unknown>): Promise<Transport>;
      };
      return kafka.kafkaTransport({ ...kafka.kafkaOptionsFromEnv(env), ...options.kafka });
    }
    case 'rabbitmq': {
      const rabbitMq = (await load(name, options.importPackage)) as {
        rabbitMqTransport(options: Record<string, unknown>): Promise<Transport>;
      };
      return rabbitMq.rabbitMqTransport({
        url: env.HERALD_RABBITMQ_URL || DEFAULT_RABBITMQ_URL,
        ...options.rabbitMq,
      });
    }
    case 'redis': {
      const redis = (await load(name, options.importPackage)) as {
        redisTransport(options: Record<string, unknown>): Promise<Transport>;
      };
      return redis.redisTransport({
        url: env.HERALD_REDIS_URL || DEFAULT_REDIS_URL,
        ...(env.HERALD_REDIS_PREFIX ? { keyPrefix: env.HERALD_REDIS_PREFIX } : {}),
        ...options.redis,
      });
    }
    case 'aws': {
      const aws = (await load(name, options.importPackage)) as {
        awsTransport(options: Record<string, unknown>): Promise<Transport>;
      };
      return aws.awsTransport({ ...awsOptionsFromEnv(env), ...options.aws });
    }
    case 'nats': {
      const nats = (await load(name, options.importPackage)) as {
        natsOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): Record<string, unknown>;
        natsTransport(options: Record<string, unknown>): Promise<Transport>;
      };
      return nats.natsTransport({ ...nats.natsOptionsFromEnv(env), ...options.nats });
    }
  }
}

/** `awsTransport()` options from `HERALD_AWS_REGION`, `HERALD_AWS_ENDPOINT` and `HERALD_AWS_PREFIX`. */
function awsOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  if (env.HERALD_AWS_REGION) options.region = env.HERALD_AWS_REGION;
  if (env.HERALD_AWS_ENDPOINT) options.endpoint = env.HERALD_AWS_ENDPOINT;
  if (env.HERALD_AWS_PREFIX) options.namePrefix = env.HERALD_AWS_PREFIX;
  return options;
}

/** The broker transports `createBus()` opens lazily. */
export type LazyTransportName = 'kafka' | 'rabbitmq' | 'nats' | 'redis' | 'aws';

/** Furthest ahead Kafka and RabbitMQ schedule a message (their own declaration: 7 days). */
const SCHEDULE_HORIZON_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Why the other broker transports have no topic patterns: their own words, as they declare them
 * once open (RabbitMQ: with its `topicPatterns` option off, the default).
 */
const NO_TOPIC_PATTERNS: Record<'rabbitmq' | 'aws', TopicPatternsFeature> = {
  rabbitmq: {
    mode: 'unsupported',
    reason:
      'routing keys are event types, so the topic must travel as an extra routing key, which costs every ' +
      'publish broker work; turn it on with the rabbitMqTransport option topicPatterns: true in every ' +
      'process of the deployment (publishers and subscribers)',
  },
  aws: {
    mode: 'unsupported',
    reason:
      'SNS cannot subscribe by topic-name pattern, and SNS keeps no messages: a group queue subscribed to ' +
      'a topic found later would miss what was published to it before (topic names are hashed, too)',
  },
};

/** What `rabbitMqTransport({ topicPatterns: true })` declares once open (its own words). */
const RABBITMQ_TOPIC_PATTERNS: TopicPatternsFeature = {
  mode: 'supported',
  guarantee:
    'every topic exchange is bound to <exchangePrefix>:patterns before its first message and every ' +
    'publish carries the BCC routing key @t.<topic>; a pattern group binds there (orders.* as ' +
    '@t.orders.*), so it gets matching topics from their first message, new topics included; ' +
    'messages from publishers without topicPatterns: true (or foreign producers omitting the key) do not reach it',
  newTopicsMsMax: 0,
};

/** What a broker transport promises before it is open (then its own features apply). */
const DECLARED_FEATURES: Record<LazyTransportName, TransportFeatures> = {
  kafka: {
    consumerGroups: true,
    // As @herald/transport-kafka declares once open (polling the topic list every 2 s).
    topicPatterns: {
      mode: 'supported',
      guarantee:
        'the topic list is polled every 2000 ms (@platformatic/kafka has no regex subscription); each ' +
        'matching topic joins the group as a subscription of its own (a rebalance), and a group new to a ' +
        'topic reads it from its start, so its first messages are not missed',
      newTopicsMsMax: 2_000,
    },
    persistent: true,
    replaysToNewGroups: true,
    orderedPerKey: true,
    exactlyOnce: false,
    messageBytesMax: 1_000_000,
    // As kafkaScheduling() declares with the default options; its own once open.
    scheduling: {
      mode: 'schedule-topic',
      guarantee: 'a schedule topic (see @herald/transport-kafka)',
      horizonMsMax: SCHEDULE_HORIZON_MS,
      nackHoldMsMax: 30_000,
    },
  },
  rabbitmq: {
    consumerGroups: true,
    topicPatterns: NO_TOPIC_PATTERNS.rabbitmq,
    persistent: true,
    replaysToNewGroups: false,
    replaysTopic: (topic) => topic.endsWith('.dlq'),
    orderedPerKey: true,
    exactlyOnce: false,
    messageBytesMax: 1024 * 1024,
    // As rabbitMqScheduling() declares with the default options; its own once open.
    scheduling: {
      mode: 'schedule-topic',
      guarantee: 'a schedule topic (see @herald/transport-rabbitmq)',
      horizonMsMax: SCHEDULE_HORIZON_MS,
      nackHoldMsMax: 999,
      nackDelayStepsMs: [1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000],
    },
  },
  nats: {
    consumerGroups: true,
    // As @herald/transport-nats declares once open (polling the stream list every 2 s).
    topicPatterns: {
      mode: 'supported',
      guarantee:
        'the stream list is polled every 2000 ms (JetStream announces no new streams); each matching ' +
        'topic is a subscription of its own in the group, and a group new to a topic reads it from its ' +
        'start, so its first messages are not missed',
      newTopicsMsMax: 2_000,
    },
    persistent: true,
    replaysToNewGroups: true,
    orderedPerKey: true,
    // natsOptionsFromEnv sets no duplicateWindowMs, so the default 2 min applies.
    publishDeduplication:
      'JetStream stores a message once per Nats-Msg-Id (a digest of its CloudEvents id, key, headers ' +
      "and body): an exact copy published again within the stream's duplicate window (2 min) is " +
      'acknowledged as a duplicate and never delivered',
    exactlyOnce: false,
    messageBytesMax: 1_000_000,
    scheduling: {
      mode: 'unsupported',
      reason:
        'not built: JetStream counts a message nacked with a delay against max_ack_pending (at most ' +
        '4,096) until redelivered, so a schedule topic would hold only that many waiting messages, and ' +
        'later ones, even due sooner, would wait behind them; use the embedded broker, Kafka or RabbitMQ',
    },
  },
  redis: {
    consumerGroups: true,
    // As @herald/transport-redis declares once open (polling the topic list every 2 s).
    topicPatterns: {
      mode: 'supported',
      guarantee:
        'the topic list (SCAN of the topic hashes) is polled every 2000 ms; each matching topic is a ' +
        'subscription of its own in the group, and a group new to a topic reads it from its start, so its ' +
        'first messages are not missed',
      newTopicsMsMax: 2_000,
    },
    persistent: true,
    replaysToNewGroups: true,
    orderedPerKey: true,
    exactlyOnce: false,
    messageBytesMax: 1024 * 1024,
    scheduling: {
      mode: 'unsupported',
      reason:
        'not built yet: a sorted set per topic scored by due time, moved to its stream by a Lua script, ' +
        'would keep them durably; until then use the embedded broker, Kafka or RabbitMQ',
    },
  },
  aws: {
    consumerGroups: true,
    topicPatterns: NO_TOPIC_PATTERNS.aws,
    persistent: true,
    replaysToNewGroups: false,
    orderedPerKey: true,
    publishDeduplication:
      'SNS FIFO drops an exact copy of a message with a CloudEvents id published again within 5 minutes',
    exactlyOnce: false,
    messageBytesMax: 190_000,
    scheduling: {
      mode: 'unsupported',
      reason:
        'SQS FIFO queues have no per-message DelaySeconds (only a queue-wide delay) and standard ' +
        'queues stop at 15 minutes; use the embedded broker, Kafka or RabbitMQ',
    },
  },
};

/**
 * A Kafka, RabbitMQ, NATS, Redis or AWS transport from the environment that opens (loading its package) on first
 * use, for `createBus()`, which is synchronous. An unknown `HERALD_TRANSPORT` throws here; a
 * missing package or unreachable broker rejects the first `start`, `publish` or `subscribe`.
 */
export function lazyTransportFromEnv(
  name: LazyTransportName,
  options: TransportFromEnvOptions = {},
): Transport {
  let features = DECLARED_FEATURES[name];
  // RabbitMQ's patterns are an option (`rabbitMq: { topicPatterns: true }`), so is their declaration.
  if (name === 'rabbitmq' && options.rabbitMq?.topicPatterns === true) {
    features = { ...features, topicPatterns: RABBITMQ_TOPIC_PATTERNS };
  }
  return lazyTransport(name, features, () => transportFromEnv(options));
}

async function load(name: keyof typeof TRANSPORT_PACKAGES, importPackage?: ImportPackage): Promise<unknown> {
  const specifier = TRANSPORT_PACKAGES[name];
  try {
    // A variable specifier, so bundlers and type-checkers never require the optional package.
    return await (importPackage ?? ((module: string) => import(module)))(specifier);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const missing =
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      String((error as Error).message).includes(specifier);
    throw new ConfigurationError(
      missing
        ? `HERALD_TRANSPORT=${name} needs ${specifier}, which is not installed: npm install ${specifier}`
        : `HERALD_TRANSPORT=${name}: cannot load ${specifier}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
