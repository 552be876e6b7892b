/**
 * `redisTransport()`: the Herald Transport on Redis Streams (through `ioredis`). See the package
 * README for the mapping (a stream per topic partition, a consumer group per Herald group, partition
 * leases for per-key order), the guarantees and the limits.
 */
import {
  assertTopicName,
  isTopicPattern,
  type MessageHandler,
  messageSizeBytes,
  PayloadTooLargeError,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportFeatures,
  type TransportMessage,
} from '@herald/bus';
import {
  assertSubscribeOptions,
  PatternSubscriber,
  partitionForKey,
  SubscriptionRegistry,
} from '@herald/bus/internal';
import type { Redis } from 'ioredis';
import { type Connection, closeConnection, command, openConnection } from './connection.ts';
import { entryFields } from './entries.ts';
import { fsyncError, partitionsMismatch, publishError } from './errors.ts';
import { streamKey, topicKey } from './keys.ts';
import { type RedisTransportOptions, type ResolvedOptions, resolveOptions } from './options.ts';
import { GroupSubscription, type SubscriptionHost } from './subscription.ts';
import { listTopics, REDIS_TOPIC_PATTERNS } from './topic-patterns.ts';

/** Counters of one transport instance. */
export interface RedisTransportStats {
  /** Times the command connection was lost and reopened. */
  readonly reconnects: number;
}

/** The Redis transport: a Herald {@link Transport} plus Redis-specific inspection. */
export interface RedisTransport extends Transport {
  /** Counters since creation. */
  stats(): RedisTransportStats;
  /** The stream key of each partition of `topic` (to inspect with `XINFO`, or delete after a test). */
  streams(topic: string): string[];
}

/**
 * The partition (0…`partitions`-1) of `key`: Kafka's murmur2 partitioner (shared with
 * `@herald/broker` through `@herald/bus/internal`), so a key picks the same number everywhere.
 */
export function partitionOfKey(key: string, partitions: number): number {
  return partitionForKey(key, partitions);
}

/**
 * Connects to Redis and returns the transport. Rejects with a `ConfigurationError` for bad options
 * or credentials (or, with `requireFsyncAlways`, a server that does not fsync every write), and with
 * a retriable `TransportError` if the server cannot be reached within `connectTimeoutMs`.
 *
 * @example
 * const transport = await redisTransport({ url: 'redis://127.0.0.1:6379' });
 * const bus = createBus({ transport, source: '/checkout' });
 */
export async function redisTransport(options: RedisTransportOptions = {}): Promise<RedisTransport> {
  const resolved = resolveOptions(options);
  const connection = await openConnection(resolved, 'commands');
  try {
    if (resolved.requireFsyncAlways) await checkFsyncAlways(resolved, connection.redis);
  } catch (error) {
    connection.redis.disconnect();
    throw error;
  }
  return new RedisTransportImpl(resolved, connection);
}

async function checkFsyncAlways(options: ResolvedOptions, redis: Redis): Promise<void> {
  const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
  const [, appendfsync] = (await redis.config('GET', 'appendfsync')) as string[];
  if (appendonly !== 'yes' || appendfsync !== 'always') {
    throw fsyncError(options.url, appendonly ?? 'unknown', appendfsync ?? 'unknown');
  }
}

class RedisTransportImpl implements RedisTransport, SubscriptionHost {
  readonly name = 'redis';
  readonly features: TransportFeatures;
  readonly options: ResolvedOptions;
  readonly redis: Redis;
  readonly #connection: Connection;
  readonly #registry = new SubscriptionRegistry<GroupSubscription>('redis transport');
  /** Topics whose partition count was checked against Redis. */
  readonly #topics = new Map<string, Promise<void>>();
  /** Topics whose check succeeded. */
  readonly #checkedTopics = new Set<string>();
  #roundRobin = 0;
  /** Topic-pattern subscriptions, over the topic list polled every `TOPIC_LIST_POLL_MS`. */
  readonly #patterns = new PatternSubscriber({
    name: 'redis transport',
    listTopics: () => listTopics(this.redis, this.options.keyPrefix),
    subscribeTopic: (options, handler) => this.subscribe(options, handler),
    closed: () => this.#registry.closed,
  });

  constructor(options: ResolvedOptions, connection: Connection) {
    this.options = options;
    this.#connection = connection;
    this.redis = connection.redis;
    this.features = {
      consumerGroups: true,
      // Only as durable as the server's persistence: see the README (appendfsync always to survive a crash).
      persistent: true,
      // A new group starts at the beginning of each retained stream.
      replaysToNewGroups: true,
      orderedPerKey: true,
      exactlyOnce: false,
      messageBytesMax: options.messageBytesMax,
      scheduling: {
        mode: 'unsupported',
        reason:
          'not built yet: a sorted set per topic scored by due time, moved to its stream by a Lua script, ' +
          'would keep them durably; until then use the embedded broker, Kafka or RabbitMQ',
      },
      topicPatterns: REDIS_TOPIC_PATTERNS,
    };
  }

  stats(): RedisTransportStats {
    return { reconnects: this.#connection.reconnects() };
  }

  streams(topic: string): string[] {
    return Array.from({ length: this.options.partitions }, (_, p) =>
      streamKey(this.options.keyPrefix, topic, p),
    );
  }

  async publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    this.#registry.assertOpen();
    assertTopicName(topic, 'publish');
    for (const message of messages) {
      const size = messageSizeBytes(message);
      if (size > this.features.messageBytesMax) {
        throw new PayloadTooLargeError(topic, size, this.features.messageBytesMax);
      }
    }
    if (messages.length === 0) return;
    // Checked once per topic; afterwards no extra await on the hot path.
    if (!this.#checkedTopics.has(topic)) await this.#checkTopic(topic);
    const trim = this.#trimArguments();
    const { partitions, keyPrefix } = this.options;
    // Sent back to back (one pipeline on the socket); each resolves once Redis applied it, which
    // with appendfsync always means written and fsynced.
    const added = messages.map((message) => {
      const partition =
        message.key === undefined ? this.#roundRobin++ % partitions : partitionOfKey(message.key, partitions);
      return this.redis.call(
        'XADD',
        streamKey(keyPrefix, topic, partition),
        ...trim,
        '*',
        ...entryFields(message),
      );
    });
    try {
      await command(this.options, `publishing to "${topic}"`, () => Promise.all(added));
    } catch (error) {
      for (const each of added) each.catch(() => {});
      this.#registry.assertOpen();
      throw publishError(topic, error);
    }
  }

  /** `MAXLEN ~ n` or `MINID ~ <now - age>`: the retention limit applied on every append. */
  #trimArguments(): (string | number)[] {
    const { streamAgeMsMax, streamLengthMax } = this.options;
    if (streamAgeMsMax === undefined) return ['MAXLEN', '~', streamLengthMax];
    return ['MINID', '~', `${Math.max(0, Date.now() - streamAgeMsMax)}-0`];
  }

  /** Records the topic's partition count on first use, and refuses a topic made with another. */
  #checkTopic(topic: string): Promise<void> {
    let checked = this.#topics.get(topic);
    if (checked === undefined) {
      checked = command(this.options, `checking topic "${topic}"`, async () => {
        const key = topicKey(this.options.keyPrefix, topic);
        await this.redis.hsetnx(key, 'partitions', this.options.partitions);
        const stored = Number(await this.redis.hget(key, 'partitions'));
        if (stored !== this.options.partitions)
          throw partitionsMismatch(topic, stored, this.options.partitions);
        this.#checkedTopics.add(topic);
      });
      checked.catch(() => this.#topics.delete(topic));
      this.#topics.set(topic, checked);
    }
    return checked;
  }

  async prepareGroup(topic: string, group: string): Promise<void> {
    await this.#checkTopic(topic);
    await command(this.options, `creating group "${group}" on "${topic}"`, () =>
      Promise.all(
        this.streams(topic).map((stream) =>
          // From the start of the stream: a new group replays what is retained.
          this.redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM').catch((error: unknown) => {
            if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error;
          }),
        ),
      ),
    );
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    this.#registry.assertOpen();
    if (isTopicPattern(options.topic)) return this.#patterns.subscribe(options, handler);
    assertSubscribeOptions(options);
    const subscription = new GroupSubscription(this, options, handler);
    return this.#registry.start(subscription, () => subscription.start());
  }

  forget(subscription: GroupSubscription): void {
    this.#registry.forget(subscription);
  }

  close(): Promise<void> {
    return this.#registry.close((subscriptions) => this.#close(subscriptions));
  }

  async #close(subscriptions: readonly GroupSubscription[]): Promise<void> {
    this.#patterns.close();
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
    await closeConnection(this.#connection, 1000);
  }
}
