/** `rabbitMqTransport()` options: every one bounded, every default stated. */
import { assertTopicName, ConfigurationError, IN_FLIGHT_MAX } from '@herald/bus';
import { assertName, integerOption, oneOfOption, urlOption } from '@herald/bus/internal';
import { assertExchangePrefix } from './names.ts';

/** Queue type of the shard and retry queues. */
export type QueueType = 'quorum' | 'classic';

/** What `publish` does with a message that no queue accepted (no group bound to its type). */
export type UnroutableAction = 'resolve' | 'reject';

/** Options of {@link rabbitMqTransport}. */
export interface RabbitMqTransportOptions {
  /**
   * AMQP URL, e.g. `amqp://user:password@host:5672/vhost` (`amqps://` for TLS). Default
   * `amqp://guest:guest@127.0.0.1:5672`. The password never appears in errors or logs.
   */
  readonly url?: string;
  /**
   * Prefix of every exchange and queue name this transport declares (default `herald.`; at most
   * 64 characters from `A-Z a-z 0-9 . _ : -`). Use `''` to publish to exchanges named exactly
   * like the topics, e.g. to meet foreign producers on exchange `orders`.
   */
  readonly exchangePrefix?: string;
  /**
   * `quorum` (default: replicated, confirms after a majority has the message on disk, poison
   * message counting) or `classic` (single node, lighter). Must match what already exists on the
   * broker: RabbitMQ refuses to redeclare a queue with another type.
   */
  readonly queueType?: QueueType;
  /**
   * Shard queues per consumer group (1…64; default 4). Keys are spread over them by murmur2, and
   * each shard has a single active consumer, so per-key order holds across processes. Publishers
   * and consumers of a topic must agree on it (a shard number the group lacks falls back to shard 0).
   */
  readonly shards?: number;
  /**
   * Messages RabbitMQ sends ahead, unacked, to each shard consumer (1…4096; default: the
   * subscription's `inFlightMax`). Handlers still run at most `inFlightMax` at a time.
   */
  readonly prefetch?: number;
  /** Largest message accepted by `publish` (body + headers + key; default 1 MiB, at most 128 MiB, RabbitMQ's own default limit). */
  readonly messageBytesMax?: number;
  /**
   * Topics whose exchange is a fanout exchange (broadcast): every group gets every message and the
   * `types` routing hint is ignored. Publishers and consumers must list the same topics.
   */
  readonly fanoutTopics?: readonly string[];
  /**
   * Binding patterns per group name, replacing the group's `types` hint on every topic, e.g.
   * `{ billing: ['order.*'] }` (topic-exchange patterns: `*` one word, `#` any words).
   */
  readonly groupBindings?: Readonly<Record<string, readonly string[]>>;
  /**
   * A published message that reached no queue (the topic has no group bound to its type):
   * `resolve` (default: an event nobody subscribed to is not an error) or `reject`. Either way it
   * is counted in `stats().unroutable`.
   */
  readonly unroutable?: UnroutableAction;
  /** How long creation, `publish` and `subscribe` wait for a connection (100 ms…5 min; default 10 s). */
  readonly connectTimeoutMs?: number;
  /** First reconnect delay (10 ms…10 s; default 100 ms); it doubles, with jitter, on each failure. */
  readonly reconnectDelayMsMin?: number;
  /** Longest reconnect delay (≥ the minimum, at most 60 s; default 5 s). */
  readonly reconnectDelayMsMax?: number;
  /** AMQP heartbeat (0 disables; at most 600 s; default 10 s): how soon a dead peer is noticed. */
  readonly heartbeatSeconds?: number;
  /**
   * Longest nack delay held in the process (1 s…25 min; default 15 min). Longer delays are
   * shortened to it: a held message stays unacked on the broker, and RabbitMQ closes a channel
   * whose delivery stays unacked past its consumer timeout (30 min by default).
   */
  readonly holdDelayMsMax?: number;
  /**
   * Keyless messages nacked with at least this delay go through a retry queue (TTL plus
   * dead-lettering back to the group) instead of being held in the process (100 ms…1 h; default
   * 1 s). Keyed messages are always held, to keep their key's order.
   */
  readonly retryQueueDelayMsMin?: number;
  /** Name shown for the connection in `rabbitmqctl list_connections user_provided_name` (default `herald`). */
  readonly connectionName?: string;
  /**
   * Topics kept replayable, so a group that subscribes for the first time reads them from their
   * start (`features.replaysTopic`): a list of topic names or a predicate. Default: names ending in
   * `.dlq`, the bus's dead-letter topics, which `bus.deadLetters.list/redrive` must read. Each gets
   * a durable stream queue bound to its exchange (RabbitMQ 3.9+, feature flag `stream_queue`), and
   * every subscription to it reads that stream. `[]` turns replay off (and `bus.deadLetters` with it).
   */
  readonly replayTopics?: readonly string[] | ((topic: string) => boolean);
  /**
   * Retention of each replay topic's stream by size (`x-max-length-bytes`; 1 MiB…1 TiB; default
   * 1 GiB): the oldest segments are dropped beyond it. Retention works on whole segments, sized
   * an eighth of this (at most 500 MB, RabbitMQ's default), so up to an eighth more may be kept.
   */
  readonly streamBytesMax?: number;
  /**
   * Retention of each replay topic's stream by age (`x-max-age`, e.g. `7D`, `12h`, `30m`; units
   * `Y M D h m s`; default `7D`): segments whose messages are all older are dropped.
   */
  readonly streamAgeMax?: string;
  /**
   * Topic-pattern subscriptions (`subscribe` with `orders.*`, `bus.on` with `topicPattern`; default
   * false). On, every topic exchange is also bound to the exchange `<exchangePrefix>:patterns` and
   * every publish carries the BCC routing key `@t.<topic>`, which pattern groups bind on (see the
   * README's *Topic patterns*). Turn it on in every process of the deployment: a pattern group
   * receives only messages from publishers that have it on. Off by default because it costs every
   * publish broker work (an extra routing key and an exchange hop) whether or not a pattern group
   * exists, and keeps the topology of earlier versions unchanged.
   */
  readonly topicPatterns?: boolean;
}

/** Options with every default applied and checked. */
export interface ResolvedOptions {
  readonly url: string;
  readonly exchangePrefix: string;
  readonly queueType: QueueType;
  readonly shards: number;
  readonly prefetch: number | undefined;
  readonly messageBytesMax: number;
  readonly fanoutTopics: ReadonlySet<string>;
  readonly groupBindings: Readonly<Record<string, readonly string[]>>;
  readonly unroutable: UnroutableAction;
  readonly connectTimeoutMs: number;
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
  readonly heartbeatSeconds: number;
  readonly holdDelayMsMax: number;
  readonly retryQueueDelayMsMin: number;
  readonly connectionName: string;
  /** Whether `topic` is a replay topic (kept in a stream queue). */
  readonly replays: (topic: string) => boolean;
  readonly streamBytesMax: number;
  readonly streamAgeMax: string;
  readonly topicPatterns: boolean;
}

/** Default URL: the local broker's default listener and user. */
export const DEFAULT_URL = 'amqp://guest:guest@127.0.0.1:5672';
/** Most shard queues per group. */
export const SHARDS_MAX = 64;
/** RabbitMQ's default `max_message_size` (128 MiB). */
export const MESSAGE_BYTES_MAX = 128 * 1024 * 1024;
/** Largest `streamBytesMax`. */
export const STREAM_BYTES_MAX = 2 ** 40;
/** Default `replayTopics`: the bus's default dead-letter topics. */
export const isDeadLetterTopic = (topic: string): boolean => topic.endsWith('.dlq');
const MINUTE_MS = 60_000;
const AGE_LEGAL = /^[1-9][0-9]{0,5}[YMDhms]$/;
const PATTERN_LEGAL = /^[A-Za-z0-9._*#-]+$/;
/** Starts every configuration error message. */
const OWNER = 'rabbitMqTransport';

/** Applies defaults and throws a {@link ConfigurationError} naming the first bad option. */
export function resolveOptions(options: RabbitMqTransportOptions): ResolvedOptions {
  const url = urlOption(OWNER, 'url', options.url ?? DEFAULT_URL, ['amqp', 'amqps'], DEFAULT_URL);
  const exchangePrefix = options.exchangePrefix ?? 'herald.';
  assertExchangePrefix(exchangePrefix);
  const queueType = oneOfOption(OWNER, 'queueType', options.queueType ?? 'quorum', ['quorum', 'classic']);
  const unroutable = oneOfOption(OWNER, 'unroutable', options.unroutable ?? 'resolve', ['resolve', 'reject']);
  const fanoutTopics = new Set(options.fanoutTopics ?? []);
  for (const topic of fanoutTopics) assertTopicName(topic, 'rabbitMqTransport fanoutTopics');
  const groupBindings = options.groupBindings ?? {};
  for (const [group, patterns] of Object.entries(groupBindings)) {
    assertName(group, 'group', 'rabbitMqTransport groupBindings');
    if (patterns.length === 0 || patterns.some((pattern) => !PATTERN_LEGAL.test(pattern))) {
      throw new ConfigurationError(
        `rabbitMqTransport: groupBindings.${group} must list patterns such as "order.*" or "#" ` +
          '(characters A-Z a-z 0-9 . _ - * #)',
      );
    }
  }
  const reconnectDelayMsMin = integerOption(
    OWNER,
    'reconnectDelayMsMin',
    options.reconnectDelayMsMin,
    100,
    10,
    10_000,
  );
  const resolved: ResolvedOptions = {
    url,
    exchangePrefix,
    queueType,
    shards: integerOption(OWNER, 'shards', options.shards, 4, 1, SHARDS_MAX),
    prefetch:
      options.prefetch === undefined
        ? undefined
        : integerOption(OWNER, 'prefetch', options.prefetch, 1, 1, IN_FLIGHT_MAX),
    messageBytesMax: integerOption(
      OWNER,
      'messageBytesMax',
      options.messageBytesMax,
      1024 * 1024,
      1,
      MESSAGE_BYTES_MAX,
    ),
    fanoutTopics,
    groupBindings,
    unroutable,
    connectTimeoutMs: integerOption(
      OWNER,
      'connectTimeoutMs',
      options.connectTimeoutMs,
      10_000,
      100,
      5 * MINUTE_MS,
    ),
    reconnectDelayMsMin,
    reconnectDelayMsMax: integerOption(
      OWNER,
      'reconnectDelayMsMax',
      options.reconnectDelayMsMax,
      Math.max(5_000, reconnectDelayMsMin),
      reconnectDelayMsMin,
      MINUTE_MS,
    ),
    heartbeatSeconds: integerOption(OWNER, 'heartbeatSeconds', options.heartbeatSeconds, 10, 0, 600),
    holdDelayMsMax: integerOption(
      OWNER,
      'holdDelayMsMax',
      options.holdDelayMsMax,
      15 * MINUTE_MS,
      1_000,
      25 * MINUTE_MS,
    ),
    retryQueueDelayMsMin: integerOption(
      OWNER,
      'retryQueueDelayMsMin',
      options.retryQueueDelayMsMin,
      1_000,
      100,
      60 * MINUTE_MS,
    ),
    connectionName: options.connectionName ?? 'herald',
    replays: replayPredicate(options.replayTopics),
    streamBytesMax: integerOption(
      OWNER,
      'streamBytesMax',
      options.streamBytesMax,
      2 ** 30,
      2 ** 20,
      STREAM_BYTES_MAX,
    ),
    streamAgeMax: options.streamAgeMax ?? '7D',
    topicPatterns: options.topicPatterns ?? false,
  };
  if (typeof resolved.topicPatterns !== 'boolean') {
    throw new ConfigurationError(
      `rabbitMqTransport: topicPatterns must be true or false, got ${String(resolved.topicPatterns)}`,
    );
  }
  if (!AGE_LEGAL.test(resolved.streamAgeMax)) {
    throw new ConfigurationError(
      `rabbitMqTransport: streamAgeMax must be a number and a unit (Y M D h m s), e.g. "7D" or "12h", got "${resolved.streamAgeMax}"`,
    );
  }
  return resolved;
}

function replayPredicate(replayTopics: RabbitMqTransportOptions['replayTopics']): (topic: string) => boolean {
  if (replayTopics === undefined) return isDeadLetterTopic;
  if (typeof replayTopics === 'function') return (topic) => replayTopics(topic) === true;
  if (!Array.isArray(replayTopics)) {
    throw new ConfigurationError(
      'rabbitMqTransport: replayTopics must be a list of topic names or a function',
    );
  }
  const topics = new Set(replayTopics);
  for (const topic of topics) assertTopicName(topic, 'rabbitMqTransport replayTopics');
  return (topic) => topics.has(topic);
}
