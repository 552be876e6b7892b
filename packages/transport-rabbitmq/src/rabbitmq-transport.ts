/**
 * `rabbitMqTransport()`: the Herald Transport on RabbitMQ (AMQP 0-9-1, through `amqplib`).
 * See the package README for the mapping (one topic exchange per topic, routing key = event type;
 * per group a set of single-active-consumer shard queues), the guarantees and the limits.
 */
import { randomUUID } from 'node:crypto';
import {
  assertTopicName,
  ConfigurationError,
  isTopicPattern,
  type MessageHandler,
  messageSizeBytes,
  PayloadTooLargeError,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  TransportError,
  type TransportFeatures,
  type TransportHealth,
  type TransportMessage,
} from '@herald/bus';
import { assertSubscribeOptions, partitionForKey, SubscriptionRegistry } from '@herald/bus/internal';
import { type Channel, type ConfirmChannel, type ConsumeMessage, connect } from 'amqplib';
import { ConnectionManager, type Live } from './connection.ts';
import { connectError, publishError } from './errors.ts';
import {
  KEY_HEADER,
  PRIOR_ATTEMPTS_HEADER,
  reservedHeaderOf,
  SHARD_HEADER,
  TIMESTAMP_HEADER,
  TOPIC_HEADER,
  toAmqpHeaders,
} from './headers.ts';
import type { GroupNames } from './names.ts';
import { type RabbitMqTransportOptions, type ResolvedOptions, resolveOptions } from './options.ts';
import { GroupSubscription, type SubscriptionHost } from './subscription.ts';
import { topicRoutingKey } from './topic-patterns.ts';
import {
  type DeclaredTopology,
  declareRetryQueue,
  declareTopic,
  RETRY_BUCKETS_MS,
  retryBucketMs,
} from './topology.ts';

/** Routing key of messages without a `ce_type` header (raw transport messages). */
export const UNTYPED_ROUTING_KEY = 'herald.untyped';

/**
 * The shard (0…`shards`-1) of `key`: Kafka's murmur2 partitioner (shared with `@herald/broker`
 * through `@herald/bus/internal`), so a key picks the same number here as a partition there.
 */
export function shardForKey(key: string, shards: number): number {
  return partitionForKey(key, shards);
}

/** Counters of one transport instance. */
export interface RabbitMqTransportStats {
  /** Connections lost and reopened. */
  readonly reconnects: number;
  /** Published messages that reached no queue (see the `unroutable` option). */
  readonly unroutable: number;
}

/** The RabbitMQ transport: a Herald {@link Transport} plus RabbitMQ-specific inspection. */
export interface RabbitMqTransport extends Transport {
  /** Counters since creation. */
  stats(): RabbitMqTransportStats;
  /** Every exchange and queue this instance declared, e.g. to delete them after a test. */
  topology(): { readonly exchanges: readonly string[]; readonly queues: readonly string[] };
  /**
   * Deletes every exchange and queue this instance declared, with the messages they hold, on a
   * connection of its own (so it also works after `close()`). For tests and throw-away runs: other
   * processes sharing these names lose their queues too.
   */
  deleteTopology(): Promise<void>;
  /** Connected while an AMQP connection is open; see {@link Transport.health}. */
  health(): TransportHealth;
}

/** Names to delete with {@link deleteTopology}. */
export interface TopologyNames {
  readonly exchanges: Iterable<string>;
  readonly queues: Iterable<string>;
}

/**
 * Deletes `queues` (with their messages) and then `exchanges` on the broker at `url`; names that
 * do not exist are fine. For tests and operators cleaning up after a run.
 */
export async function deleteTopology(url: string, names: TopologyNames): Promise<void> {
  const model = await connect(url).catch((error: unknown) => {
    throw connectError(error, url);
  });
  model.on('error', () => {});
  try {
    const channel = await model.createChannel();
    for (const queue of names.queues) await channel.deleteQueue(queue);
    for (const exchange of names.exchanges) await channel.deleteExchange(exchange);
    await channel.close();
  } finally {
    await model.close().catch(() => {});
  }
}

/**
 * Connects to RabbitMQ and returns the transport. Rejects with a `ConfigurationError` for bad
 * options, credentials or vhost, and with a retriable `TransportError` if the broker cannot be
 * reached within `connectTimeoutMs` (the message says how to start it).
 *
 * @example
 * const transport = await rabbitMqTransport({ url: 'amqp://guest:guest@127.0.0.1:5672' });
 * const bus = createBus({ transport, source: '/checkout' });
 */
export async function rabbitMqTransport(options: RabbitMqTransportOptions = {}): Promise<RabbitMqTransport> {
  const transport = new RabbitMqTransportImpl(resolveOptions(options));
  await transport.open();
  return transport;
}

/** A confirm channel of one connection generation, with the returns it has seen. */
interface PublishChannel {
  readonly channel: ConfirmChannel;
  readonly generation: number;
  /** Message ids RabbitMQ returned as unroutable; each is removed when its confirm arrives. */
  readonly returned: Set<string>;
  /** Topic exchanges declared on this connection. */
  readonly exchanges: Map<string, Promise<string>>;
  /** Retry queues declared on this connection. */
  readonly retryQueues: Map<string, Promise<string>>;
}

class RabbitMqTransportImpl implements RabbitMqTransport, SubscriptionHost {
  readonly name = 'rabbitmq';
  readonly features: TransportFeatures;
  readonly options: ResolvedOptions;
  readonly connection: ConnectionManager;
  readonly declared: DeclaredTopology = { exchanges: new Set(), queues: new Set() };
  readonly #registry = new SubscriptionRegistry<GroupSubscription>('rabbitmq transport');
  readonly #instanceId = randomUUID().slice(0, 8);
  #publishChannel: Promise<PublishChannel> | undefined;
  #sequence = 0;
  #roundRobin = 0;
  #unroutable = 0;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.connection = new ConnectionManager(options);
    this.features = {
      consumerGroups: true,
      persistent: true,
      replaysToNewGroups: false,
      // Replay topics (dead-letter topics by default) are kept in a stream queue read from its start.
      replaysTopic: (topic) => options.replays(topic),
      orderedPerKey: true,
      singleActiveConsumer:
        'each shard queue has a single active consumer (per-key order); other members of the group stand by',
      exactlyOnce: false,
      messageBytesMax: options.messageBytesMax,
      scheduling: rabbitMqScheduling(options.retryQueueDelayMsMin),
      topicPatterns: rabbitMqTopicPatterns(options.topicPatterns),
    };
  }

  open(): Promise<void> {
    return this.connection.open();
  }

  /** The connection's state: down while RabbitMQ is away and the transport reconnects. */
  health(): TransportHealth {
    return this.#registry.closed
      ? { ...this.connection.health(), connected: false, detail: 'closed' }
      : this.connection.health();
  }

  stats(): RabbitMqTransportStats {
    return { reconnects: this.connection.reconnects, unroutable: this.#unroutable };
  }

  topology(): { readonly exchanges: readonly string[]; readonly queues: readonly string[] } {
    return { exchanges: [...this.declared.exchanges], queues: [...this.declared.queues] };
  }

  deleteTopology(): Promise<void> {
    return deleteTopology(this.options.url, this.declared);
  }

  async publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    this.#registry.assertOpen();
    assertTopicName(topic, 'publish');
    for (const message of messages) {
      const size = messageSizeBytes(message);
      if (size > this.features.messageBytesMax) {
        throw new PayloadTooLargeError(topic, size, this.features.messageBytesMax);
      }
      const reserved = reservedHeaderOf(message);
      if (reserved !== undefined) {
        throw new TransportError(
          `rabbitmq transport: header "${reserved}" uses the reserved prefix "herald-"; rename it`,
        );
      }
    }
    if (messages.length === 0) return;
    const publisher = await this.#publisher();
    const exchange = await this.#exchange(publisher, topic);
    // The topic key reaches pattern groups through the pattern exchange (see topic-patterns.ts).
    const patterns = this.options.topicPatterns;
    const bcc = patterns ? [topicRoutingKey(topic)] : undefined;
    // A hashed exchange name does not tell a pattern group the topic: the message names it.
    const namedTopic = patterns && exchange !== `${this.options.exchangePrefix}${topic}` ? topic : undefined;
    const confirms: Promise<void>[] = [];
    for (const message of messages) {
      const routingKey = message.headers.ce_type ?? UNTYPED_ROUTING_KEY;
      const { headers, contentType } = toAmqpHeaders(message);
      const nowMs = Date.now();
      const shard =
        message.key === undefined
          ? this.#roundRobin++ % this.options.shards
          : shardForKey(message.key, this.options.shards);
      headers[SHARD_HEADER] = String(shard);
      headers[TIMESTAMP_HEADER] = String(nowMs);
      if (message.key !== undefined) headers[KEY_HEADER] = message.key;
      if (namedTopic !== undefined) headers[TOPIC_HEADER] = namedTopic;
      const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
      const { confirmed, writable } = this.#send(publisher, topic, exchange, routingKey, body, {
        headers,
        contentType,
        timestamp: Math.floor(nowMs / 1000),
        BCC: bcc,
      });
      confirms.push(confirmed);
      if (!writable) await drained(publisher.channel);
    }
    // Wait for every confirm before reporting, so a rejection never leaves sends in the air.
    const outcomes = await Promise.allSettled(confirms);
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /** Publishes one message with `mandatory`; `confirmed` settles on the broker's confirm. */
  #send(
    publisher: PublishChannel,
    topic: string,
    exchange: string,
    routingKey: string,
    body: Buffer,
    properties: {
      headers: Record<string, unknown>;
      contentType: string | undefined;
      timestamp?: number;
      /** Extra routing keys, stripped by RabbitMQ before delivery. */
      BCC?: string[] | undefined;
    },
  ): { confirmed: Promise<void>; writable: boolean } {
    const messageId = `${this.#instanceId}.${++this.#sequence}`;
    let writable = true;
    const confirmed = new Promise<void>((resolve, reject) => {
      const onConfirm = (error: unknown) => {
        if (error !== null && error !== undefined) {
          publisher.returned.delete(messageId);
          reject(publishError(topic, 'RabbitMQ refused it or the channel closed first', error));
          return;
        }
        if (!publisher.returned.delete(messageId)) return resolve();
        this.#unroutable += 1;
        if (this.options.unroutable === 'resolve') return resolve();
        reject(
          new TransportError(
            `rabbitmq transport: a message for topic "${topic}" with routing key "${routingKey}" reached ` +
              'no queue: no group is bound to its type. Subscribe a group first, or set unroutable: "resolve"',
          ),
        );
      };
      try {
        writable = publisher.channel.publish(
          exchange,
          routingKey,
          body,
          { ...properties, messageId, persistent: true, mandatory: true },
          onConfirm,
        );
      } catch (error) {
        reject(publishError(topic, 'the channel is closed', error));
      }
    });
    return { confirmed, writable };
  }

  /** The confirm channel of the live connection, created on first use per connection. */
  async #publisher(): Promise<PublishChannel> {
    for (;;) {
      const live = await this.connection.live();
      let pending = this.#publishChannel;
      if (pending === undefined) {
        pending = this.#openPublisher(live);
        this.#publishChannel = pending;
      }
      try {
        const publisher = await pending;
        this.#registry.assertOpen();
        if (publisher.generation === live.generation) return publisher;
      } catch (error) {
        if (this.#publishChannel === pending) this.#publishChannel = undefined;
        this.#registry.assertOpen();
        if (this.connection.current?.generation === live.generation) {
          throw new TransportError(`rabbitmq transport: cannot open a publish channel: ${String(error)}`, {
            retriable: true,
            cause: error,
          });
        }
      }
      // The connection changed under us: drop the stale channel and try on the new one.
      if (this.#publishChannel === pending) this.#publishChannel = undefined;
    }
  }

  async #openPublisher(live: Live): Promise<PublishChannel> {
    const channel = await live.model.createConfirmChannel();
    const publisher: PublishChannel = {
      channel,
      generation: live.generation,
      returned: new Set(),
      exchanges: new Map(),
      retryQueues: new Map(),
    };
    channel.on('error', () => {}); // The 'close' that follows is handled.
    channel.on('return', (message: { properties: { messageId?: unknown } }) => {
      if (typeof message.properties.messageId === 'string')
        publisher.returned.add(message.properties.messageId);
    });
    channel.on('close', () => {
      if (this.#publishChannel !== undefined) {
        void this.#publishChannel.then((current) => {
          if (current === publisher) this.#publishChannel = undefined;
        });
      }
    });
    return publisher;
  }

  /** Declares the topic's exchange once per connection; a failed declaration is retried next time. */
  #exchange(publisher: PublishChannel, topic: string): Promise<string> {
    let declared = publisher.exchanges.get(topic);
    if (declared === undefined) {
      declared = this.#declareOnFreshChannel((channel) =>
        declareTopic(channel, this.options, this.declared, topic),
      );
      declared.catch(() => publisher.exchanges.delete(topic));
      publisher.exchanges.set(topic, declared);
    }
    return declared;
  }

  /**
   * Runs declarations on a short-lived channel: a refused declaration closes its channel, and it
   * must not take the shared publish channel (and its unconfirmed messages) down with it.
   */
  async #declareOnFreshChannel<T>(declare: (channel: Channel) => Promise<T>): Promise<T> {
    const live = await this.connection.live();
    const channel = await live.model.createChannel();
    channel.on('error', () => {});
    try {
      return await declare(channel);
    } finally {
      await channel.close().catch(() => {});
    }
  }

  async retryLater(
    names: GroupNames,
    message: ConsumeMessage,
    priorAttempts: number,
    delayMs: number,
    topic: string | undefined,
  ): Promise<void> {
    const publisher = await this.#publisher();
    const bucketMs = retryBucketMs(delayMs);
    const key = names.retryQueue(bucketMs);
    let queue = publisher.retryQueues.get(key);
    if (queue === undefined) {
      queue = this.#declareOnFreshChannel((channel) =>
        declareRetryQueue(channel, this.options, this.declared, names, bucketMs),
      );
      queue.catch(() => publisher.retryQueues.delete(key));
      publisher.retryQueues.set(key, queue);
    }
    const headers: Record<string, unknown> = { ...message.properties.headers };
    delete headers['x-delivery-count'];
    delete headers['x-death'];
    headers[PRIOR_ATTEMPTS_HEADER] = String(priorAttempts);
    // The copy returns through the group exchange, which does not tell a pattern group its topic.
    if (topic !== undefined) headers[TOPIC_HEADER] = topic;
    const { confirmed, writable } = this.#send(publisher, 'retry', '', await queue, message.content, {
      headers,
      contentType: message.properties.contentType,
      timestamp: message.properties.timestamp,
    });
    if (!writable) await drained(publisher.channel);
    await confirmed;
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    this.#registry.assertOpen();
    const feature = this.features.topicPatterns;
    if (
      feature?.mode === 'unsupported' &&
      typeof options.topic === 'string' &&
      isTopicPattern(options.topic)
    ) {
      throw new ConfigurationError(
        `rabbitmq transport: cannot subscribe to the topic pattern "${options.topic}": ${feature.reason}`,
      );
    }
    assertSubscribeOptions(options, this.options.topicPatterns);
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
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
    const publisher = await this.#publishChannel?.catch(() => undefined);
    this.#publishChannel = undefined;
    await publisher?.channel.close().catch(() => {});
    await this.connection.close();
  }
}

/** Resolves when `channel` can take more writes, or when it closed (pending confirms then fail). */
function drained(channel: Channel): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      channel.off('drain', done);
      channel.off('close', done);
      resolve();
    };
    channel.on('drain', done);
    channel.on('close', done);
  });
}

/** `features.topicPatterns`: supported where the `topicPatterns` option is on. */
export function rabbitMqTopicPatterns(enabled: boolean) {
  if (!enabled) {
    return {
      mode: 'unsupported',
      reason:
        'routing keys are event types, so the topic must travel as an extra routing key, which costs every ' +
        'publish broker work; turn it on with the rabbitMqTransport option topicPatterns: true in every ' +
        'process of the deployment (publishers and subscribers)',
    } as const;
  }
  return {
    mode: 'supported',
    guarantee:
      'every topic exchange is bound to <exchangePrefix>:patterns before its first message and every ' +
      'publish carries the BCC routing key @t.<topic>; a pattern group binds there (orders.* as ' +
      '@t.orders.*), so it gets matching topics from their first message, new topics included; ' +
      'messages from publishers without topicPatterns: true (or foreign producers omitting the key) do not reach it',
    newTopicsMsMax: 0,
  } as const;
}

/** Furthest ahead RabbitMQ schedules a message: 7 days. */
const SCHEDULE_HORIZON_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * RabbitMQ (without the delayed-message plugin) has no delayed delivery, and per-message TTL
 * expires only at a queue's head, so one queue cannot hold different delays. The bus keeps
 * scheduled messages in the topic `herald.schedule` (`SCHEDULE_TOPIC` of `@herald/bus`; see
 * `packages/bus/src/schedule/topic-scheduler.ts`); an entry waits in the group's retry queues, each with one TTL (so FIFO is due order), always the
 * longest that does not overshoot, and its last second in the scheduler's process.
 */
export function rabbitMqScheduling(retryQueueDelayMsMin: number) {
  return {
    mode: 'schedule-topic',
    guarantee:
      'entries in the topic herald.schedule, waiting in TTL retry queues and published when due by ' +
      'the active member of the group herald.scheduler (single active consumer per shard); durable as ' +
      'any quorum-queue message; a crash may publish a due message twice (same id)',
    horizonMsMax: SCHEDULE_HORIZON_MS,
    nackHoldMsMax: retryQueueDelayMsMin - 1,
    nackDelayStepsMs: RETRY_BUCKETS_MS,
  } as const;
}
