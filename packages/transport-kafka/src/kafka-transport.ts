/**
 * `kafkaTransport()`: the Herald Transport on any Kafka-protocol broker (Apache Kafka, Redpanda,
 * `herald serve`), through `@platformatic/kafka`. See the package README for the mapping, the
 * guarantees, rebalance behaviour and limits.
 */
import {
  assertTopicName,
  ClosedError,
  type CloseOptions,
  ConnectionHealth,
  isConnectionFailure,
  isTopicPattern,
  type LogFields,
  type MessageHandler,
  messageSizeBytes,
  PayloadTooLargeError,
  SERVICES_TOPIC,
  SERVICES_TOPIC_RETENTION_MS,
  SERVICES_TOPIC_SEGMENT_MS,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  TransportError,
  type TransportFeatures,
  type TransportHealth,
  type TransportMessage,
} from '@herald/bus';
import {
  assertSubscribeOptions,
  PatternSubscriber,
  partitionForKey,
  SubscriptionRegistry,
  TOPIC_LIST_POLL_MS,
} from '@herald/bus/internal';
import { Admin, ProduceAcks, Producer } from '@platformatic/kafka';
import { Batcher } from './batcher.ts';
import { describeError, hasKafkaError, healthSource, isRetriable } from './errors.ts';
import { type KafkaTransportOptions, type ResolvedOptions, resolveOptions } from './options.ts';
import { type OutgoingRecord, toRecord } from './records.ts';
import { quietly, settledWithin } from './settled-within.ts';
import { KafkaSubscription, type SubscriptionHost } from './subscription.ts';

/** Topic configs of `herald.services` when this transport creates it (herald serve takes both). */
const SERVICES_TOPIC_CONFIGS = [
  { name: 'retention.ms', value: String(SERVICES_TOPIC_RETENTION_MS) },
  { name: 'segment.ms', value: String(SERVICES_TOPIC_SEGMENT_MS) },
];
/** The Kafka transport: a Herald {@link Transport} plus its resolved options. */
export interface KafkaTransport extends Transport {
  /** The options in effect (defaults applied). */
  readonly options: ResolvedOptions;
  /**
   * Connected unless the last produce, or some subscription's last fetch or group join, failed
   * and has not succeeded since; see {@link Transport.health}.
   */
  health(): TransportHealth;
}

/**
 * Opens a Kafka transport on `options.brokers`. Resolves once the brokers answered a metadata
 * request, so a wrong address fails here rather than on the first publish.
 */
export async function kafkaTransport(options: KafkaTransportOptions): Promise<KafkaTransport> {
  const transport = new KafkaTransportImpl(resolveOptions(options));
  try {
    await transport.connect();
  } catch (error) {
    await transport.close();
    throw new TransportError(`kafka: cannot reach ${options.brokers.join(',')}: ${describeError(error)}`, {
      cause: error,
      retriable: isRetriable(error),
    });
  }
  return transport;
}

/**
 * Retries of one produce request, with backoff from `retryDelayMs` doubling up to
 * {@link PRODUCE_RETRY_DELAY_MS_MAX}: about 30 s in all with the default 250 ms, like a Kafka
 * producer's `delivery.timeout.ms` but shorter. The idempotent producer makes the retries safe.
 */
const PRODUCE_RETRIES = 32;
const PRODUCE_RETRY_DELAY_MS_MAX = 1_000;

function connection(options: ResolvedOptions, clientId: string) {
  return {
    clientId,
    bootstrapBrokers: [...options.brokers],
    ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    timeout: options.requestTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    retryDelay: options.retryDelayMs,
  };
}

class KafkaTransportImpl implements KafkaTransport, SubscriptionHost {
  readonly name = 'kafka';
  readonly features: TransportFeatures;
  readonly options: ResolvedOptions;
  readonly #producer: Producer;
  readonly #admin: Admin;
  readonly #batcher: Batcher;
  /** Partition count per topic (a promise while it is being looked up or the topic created). */
  readonly #topics = new Map<string, Promise<number>>();
  readonly #registry = new SubscriptionRegistry<KafkaSubscription>('kafka transport');
  /** Produce, fetch and join failures not yet followed by a success, for `health()`. */
  readonly connection = new ConnectionHealth();
  /** Round-robin counter for keyless messages. */
  #keyless = 0;
  /** Topic-pattern subscriptions, over the topic list polled every `TOPIC_LIST_POLL_MS`. */
  readonly #patterns = new PatternSubscriber({
    name: 'kafka transport',
    listTopics: () => this.#admin.listTopics(),
    subscribeTopic: (options, handler) => this.subscribe(options, handler),
    closed: () => this.#registry.closed,
    describeError,
  });

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.features = {
      consumerGroups: true,
      persistent: true,
      replaysToNewGroups: true,
      orderedPerKey: true,
      exactlyOnce: false,
      messageBytesMax: options.messageBytesMax,
      scheduling: kafkaScheduling(options.nackDelayMsMax),
      topicPatterns: {
        mode: 'supported',
        guarantee:
          `the topic list is polled every ${TOPIC_LIST_POLL_MS} ms (@platformatic/kafka has no regex ` +
          'subscription); each matching topic joins the group as a subscription of its own (a rebalance), ' +
          'and a group new to a topic reads it from its start, so its first messages are not missed',
        newTopicsMsMax: TOPIC_LIST_POLL_MS,
      },
    };
    this.#producer = new Producer({
      ...connection(options, options.clientId),
      idempotent: options.idempotent,
      acks: ProduceAcks.ALL,
      // Bounded: publish rejects (and the caller may retry) rather than retrying forever. Long
      // enough to outlast a leader election on a Kafka cluster: a killed leader keeps its
      // partitions until the controller fences it (`broker.session.timeout.ms`, 9 s by default),
      // and every retry refreshes the metadata, so the request finds the new leader by itself.
      retries: PRODUCE_RETRIES,
      retryDelay: (_client: unknown, _operation: string, attempt: number) =>
        Math.min(options.retryDelayMs * 2 ** Math.max(0, attempt - 1), PRODUCE_RETRY_DELAY_MS_MAX),
    });
    this.#admin = new Admin(connection(options, `${options.clientId}-admin`));
    this.#producer.on('error', () => {});
    this.#admin.on('error', () => {});
    // A request that failed retriably after its whole retry budget met a broker that is down or
    // unavailable: what waits behind it would meet the same, so it fails now (callers may retry).
    this.#batcher = new Batcher(
      (records) => this.#send(records),
      options.lingerMs,
      options.batchBytesMax,
      (error) => isRetriable(error),
    );
  }

  async connect(): Promise<void> {
    await this.#producer.metadata({ topics: [] });
  }

  /** Logs to `options.logger` (subscriptions throttle their own warnings). */
  warn(message: string, fields: LogFields = {}): void {
    this.options.logger.warn({ transport: 'kafka', ...fields }, message);
  }

  health(): TransportHealth {
    return this.connection.report(this.#registry.closed);
  }

  forget(subscription: KafkaSubscription): void {
    // A closed subscription no longer speaks for the connection.
    this.connection.recovered(healthSource('fetch', subscription.topic, subscription.group));
    this.connection.recovered(healthSource('join', subscription.topic, subscription.group));
    this.#registry.forget(subscription);
  }

  /** The topic's partition count, creating the topic first when allowed. */
  #partitions(topic: string): Promise<number> {
    let known = this.#topics.get(topic);
    if (known === undefined) {
      known = this.#lookUp(topic);
      this.#topics.set(topic, known);
      known.catch(() => this.#topics.delete(topic));
    }
    return known;
  }

  async #lookUp(topic: string): Promise<number> {
    if (this.options.createTopics) {
      try {
        await this.#admin.createTopics({
          topics: [topic],
          partitions: this.options.partitions,
          replicas: -1,
          // The buses' announcements are read from their last minutes: a day is kept, not forever.
          ...(topic === SERVICES_TOPIC ? { configs: SERVICES_TOPIC_CONFIGS } : {}),
        });
      } catch (error) {
        if (!hasKafkaError(error, 'TOPIC_ALREADY_EXISTS')) throw error;
      }
    }
    const metadata = await this.#producer.metadata({ topics: [topic], forceUpdate: true });
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    if (count < 1) throw new TransportError(`kafka: topic ${topic} has no partitions`);
    return count;
  }

  async publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    this.#registry.assertOpen();
    assertTopicName(topic, 'publish');
    let bytes = 0;
    for (const message of messages) {
      const size = messageSizeBytes(message);
      if (size > this.options.messageBytesMax) {
        throw new PayloadTooLargeError(topic, size, this.options.messageBytesMax);
      }
      bytes += size;
    }
    if (messages.length === 0) return;
    let partitions: number;
    try {
      partitions = await this.#partitions(topic);
    } catch (error) {
      if (!this.#registry.closed) this.connection.failed('produce', error);
      if (error instanceof TransportError) throw error;
      throw new TransportError(`kafka: topic ${topic} unavailable: ${describeError(error)}`, {
        cause: error,
        retriable: isRetriable(error),
      });
    }
    this.#registry.assertOpen();
    const records: OutgoingRecord[] = [];
    // Keyless messages of one publish share a partition (sticky), keyed ones follow murmur2.
    const sticky = this.#keyless++ % partitions;
    for (const message of messages) {
      const partition = message.key === undefined ? sticky : partitionForKey(message.key, partitions);
      records.push(toRecord(topic, partition, message));
    }
    try {
      await this.#batcher.add(records, bytes);
    } catch (error) {
      if (error instanceof ClosedError) throw error;
      if (!this.#registry.closed && isConnectionFailure(error)) this.connection.failed('produce', error);
      // The topic may have changed (deleted, repartitioned): look it up again next time.
      this.#topics.delete(topic);
      throw new TransportError(`kafka: publish to ${topic} failed: ${describeError(error)}`, {
        cause: error,
        retriable: isRetriable(error),
      });
    }
    this.connection.recovered('produce');
  }

  async #send(records: OutgoingRecord[]): Promise<void> {
    await this.#producer.send({ messages: records as never[] });
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    this.#registry.assertOpen();
    if (isTopicPattern(options.topic)) return this.#patterns.subscribe(options, handler);
    assertSubscribeOptions(options);
    try {
      await this.#partitions(options.topic);
    } catch (error) {
      throw new TransportError(`kafka: topic ${options.topic} unavailable: ${describeError(error)}`, {
        cause: error,
        retriable: isRetriable(error),
      });
    }
    this.#registry.assertOpen();
    const subscription = new KafkaSubscription(
      this,
      options.topic,
      options.group,
      options.inFlightMax,
      handler,
    );
    try {
      return await this.#registry.start(subscription, () => subscription.start());
    } catch (error) {
      this.#registry.assertOpen();
      throw new TransportError(
        `kafka: joining group ${options.group} on ${options.topic} failed: ${describeError(error)}`,
        { cause: error, retriable: isRetriable(error) },
      );
    }
  }

  close(options: CloseOptions = {}): Promise<void> {
    const timeoutMs = Math.min(
      this.options.closeTimeoutMs,
      Math.max(0, options.timeoutMs ?? Number.POSITIVE_INFINITY),
    );
    return this.#registry.close((subscriptions) => this.#close(subscriptions, timeoutMs));
  }

  /**
   * Bounded by `timeoutMs` (at most `closeTimeoutMs`) whatever the broker does: subscriptions close
   * in parallel, then the produce request in flight and the clients get what is left, then their
   * connections are dropped (a publish still waiting then rejects).
   */
  async #close(subscriptions: readonly KafkaSubscription[], timeoutMs: number): Promise<void> {
    this.#patterns.close();
    const deadlineMs = performance.now() + timeoutMs;
    await Promise.all(subscriptions.map((subscription) => subscription.closeBy(deadlineMs)));
    this.#batcher.abort(new ClosedError('kafka transport'));
    const leftMs = () => Math.max(0, deadlineMs - performance.now());
    const closed = settledWithin(
      this.#batcher
        .idle()
        .then(() => Promise.all([quietly(this.#producer.close()), quietly(this.#admin.close())])),
      leftMs(),
    );
    if (!(await closed)) {
      this.warn(
        `kafka: the broker did not answer within ${timeoutMs} ms while closing (closeTimeoutMs ${this.options.closeTimeoutMs} ms, or less when bus.stop's timeoutMs ran out); connections dropped`,
      );
    }
    await settledWithin(
      Promise.all([quietly(this.#producer.connections.close()), quietly(this.#admin.connections.close())]),
      1_000,
    );
  }
}

/** Longest a scheduler parks a scheduled entry before it moves it to the end of the schedule topic. */
const SCHEDULE_HOLD_MS_MAX = 30_000;
/** Furthest ahead Kafka schedules a message: 7 days, Kafka's default retention. */
const SCHEDULE_HORIZON_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Kafka has no delayed delivery: the bus keeps scheduled messages in the topic `herald.schedule`
 * (`SCHEDULE_TOPIC` of `@herald/bus`; see `packages/bus/src/schedule/topic-scheduler.ts`),
 * parking each entry in the scheduler's partition window for at most 30 s (or `nackDelayMsMax`)
 * and then appending it again, so commits move on.
 */
export function kafkaScheduling(nackDelayMsMax: number) {
  return {
    mode: 'schedule-topic',
    guarantee:
      'entries in the topic herald.schedule, published when due by any started bus (the group ' +
      'herald.scheduler); durable as any Kafka message; a crash may publish a due message twice (same id); ' +
      'a cancellation reaches the message only through the scheduler reading it: reliable with one ' +
      'scheduler process or a one-partition herald.schedule',
    horizonMsMax: SCHEDULE_HORIZON_MS,
    nackHoldMsMax: Math.min(SCHEDULE_HOLD_MS_MAX, nackDelayMsMax),
  } as const;
}
