/**
 * `natsTransport()`: the Herald Transport on NATS JetStream (through `@nats-io/transport-node` and
 * `@nats-io/jetstream`). See the package README for the mapping (a file-stored stream per topic,
 * partitions as subjects, a durable pull consumer per group and partition, partitions leased to
 * one member at a time), the guarantees and the limits.
 */
import {
  ConfigurationError,
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
  assertTopicName,
  PatternSubscriber,
  partitionForKey,
  publishIdentity,
  SubscriptionRegistry,
} from '@herald/bus/internal';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { connectError, describeServers, jetStreamMissingError, publishError, setupError } from './errors.ts';
import { toNatsHeaders } from './headers.ts';
import {
  assertSubjectSafeTopic,
  consumerName,
  leaseBucketName,
  type TopicNames,
  topicNames,
} from './names.ts';
import {
  HEADER_BYTES_RESERVED,
  type NatsTransportOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.ts';
import { GroupSubscription, type SubscriptionHost } from './subscription.ts';
import { listTopics, NATS_TOPIC_PATTERNS } from './topic-patterns.ts';

const NANOS_PER_MS = 1_000_000;
/**
 * How long after confirming an ack nats-server may take to write the consumer's state to its
 * files (2.9 writes it at most 10 times a second per consumer): a crash within it redelivers the
 * message. `close()` waits it out after the last confirmed ack, so a crash after an orderly close
 * redelivers nothing acked.
 */
export const CONSUMER_STATE_WRITE_MS = 250;

/**
 * The partition (0…`partitions`-1) of `key`: Kafka's murmur2 partitioner (shared through
 * `@herald/bus/internal`), so a key picks the same number here as on Kafka or RabbitMQ.
 */
export function partitionOfKey(key: string, partitions: number): number {
  return partitionForKey(key, partitions);
}

/**
 * The transport's `features.publishDeduplication` for a `duplicateWindowMs`: absent at 0 (no
 * message id is sent, every publish is stored), otherwise how JetStream drops a copy. A stream
 * keeps the window it was created with, at least 1 s (JetStream's smallest).
 */
function publishDeduplication(duplicateWindowMs: number): string | undefined {
  if (duplicateWindowMs <= 0) return undefined;
  const window = describeDurationMs(Math.max(duplicateWindowMs, 1_000));
  return (
    'JetStream stores a message once per Nats-Msg-Id (a digest of its CloudEvents id, key, headers ' +
    `and body): an exact copy published again within the stream's duplicate window (${window}) is ` +
    'acknowledged as a duplicate and never delivered'
  );
}

/** `120000` as `2 min`, `1500` as `1500 ms`: for the feature text, in the unit the value is whole in. */
function describeDurationMs(durationMs: number): string {
  if (durationMs % 60_000 === 0) return `${durationMs / 60_000} min`;
  if (durationMs % 1_000 === 0) return `${durationMs / 1_000} s`;
  return `${durationMs} ms`;
}

/** Counters of one transport instance. */
export interface NatsTransportStats {
  /** Times the connection was lost and re-established. */
  readonly reconnects: number;
  /** Publishes JetStream acknowledged as duplicates of a message id it had (not stored again). */
  readonly duplicates: number;
}

/** The NATS transport: a Herald {@link Transport} plus NATS-specific inspection. */
export interface NatsTransport extends Transport {
  /** Counters since creation. */
  stats(): NatsTransportStats;
  /** The streams this instance created or used (its lease bucket's too), e.g. to delete them after a test. */
  streams(): readonly string[];
  /**
   * Deletes every stream this instance used (with its messages, consumers and leases). For tests and
   * throw-away runs: other processes using these topics lose them too.
   */
  deleteStreams(): Promise<void>;
  /** The topics with a stream under this transport's prefix on the server (of every process). */
  listTopics(): Promise<string[]>;
  /**
   * Deletes every stream under this transport's prefix on the server (the topics and lease buckets
   * of every process using the prefix); resolves with how many. For tests and throw-away runs.
   */
  deletePrefix(): Promise<number>;
}

/**
 * Connects to NATS and returns the transport. Rejects with a `ConfigurationError` for bad options,
 * credentials or a server without JetStream, and with a retriable `TransportError` if no server
 * answers within `connectTimeoutMs` (the message says how to start one).
 *
 * @example
 * const transport = await natsTransport({ servers: 'nats://127.0.0.1:4222' });
 * const bus = createBus({ transport, source: '/checkout' });
 */
export async function natsTransport(options: NatsTransportOptions = {}): Promise<NatsTransport> {
  const resolved = resolveOptions(options);
  const nc = await connectWithin(resolved);
  try {
    const jsm = await jetstreamManager(nc, { timeout: resolved.requestTimeoutMs }).catch((error: unknown) => {
      throw jetStreamMissingError(describeServers(resolved.servers), error);
    });
    return new NatsTransportImpl(resolved, nc, jsm);
  } catch (error) {
    await nc.close().catch(() => {});
    throw error;
  }
}

/** Connects, retrying refused connections until `connectTimeoutMs`. */
async function connectWithin(options: ResolvedOptions): Promise<NatsConnection> {
  const deadlineMs = Date.now() + options.connectTimeoutMs;
  for (;;) {
    try {
      return await connect({
        servers: [...options.servers],
        name: options.connectionName,
        user: options.user,
        pass: options.pass,
        token: options.token,
        timeout: Math.max(100, Math.min(options.connectTimeoutMs, deadlineMs - Date.now())),
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: options.reconnectDelayMs,
        reconnectJitter: Math.min(100, options.reconnectDelayMs),
        pingInterval: 10_000,
        maxPingOut: 2,
        // By default the client builds two Errors per request (publish, ack confirmation) only to
        // keep the caller's stack in case it fails: capturing those stacks was about a third of
        // a publish's CPU. Herald wraps every failure in its own error (with its own stack and
        // the client's as the cause), so the traces add nothing.
        noAsyncTraces: true,
      });
    } catch (error) {
      const heraldError = connectError(error, options.servers);
      if (heraldError instanceof ConfigurationError || Date.now() >= deadlineMs) throw heraldError;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(options.reconnectDelayMs, deadlineMs - Date.now())),
      );
    }
  }
}

class NatsTransportImpl implements NatsTransport, SubscriptionHost {
  readonly name = 'nats';
  readonly features: TransportFeatures;
  readonly options: ResolvedOptions;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #streams = new Map<string, Promise<TopicNames>>();
  /** Topics whose stream is known to exist: publish reaches the client without an await. */
  readonly #readyStreams = new Map<string, TopicNames>();
  readonly #consumers = new Map<string, Promise<void>>();
  readonly #registry = new SubscriptionRegistry<GroupSubscription>('nats transport');
  #kv: Promise<KV> | undefined;
  #roundRobin = 0;
  #reconnects = 0;
  #duplicates = 0;
  #lastAckMs = 0;
  /** Topic-pattern subscriptions, over the stream list polled every `TOPIC_LIST_POLL_MS`. */
  readonly #patterns = new PatternSubscriber({
    name: 'nats transport',
    listTopics: () => listTopics(this.#jsm, this.options.prefix),
    subscribeTopic: (options, handler) => this.subscribe(options, handler),
    closed: () => this.#registry.closed,
  });

  constructor(options: ResolvedOptions, nc: NatsConnection, jsm: JetStreamManager) {
    this.options = options;
    this.nc = nc;
    this.#jsm = jsm;
    this.js = jetstream(nc, { timeout: options.requestTimeoutMs });
    const payloadBytesMax = (nc.info?.max_payload ?? 1024 * 1024) - HEADER_BYTES_RESERVED;
    if (options.messageBytesMax > payloadBytesMax) {
      throw new ConfigurationError(
        `natsTransport: messageBytesMax ${options.messageBytesMax} is over what the server accepts ` +
          `(max_payload ${nc.info?.max_payload} less ${HEADER_BYTES_RESERVED} for headers); lower it or raise max_payload`,
      );
    }
    this.features = {
      consumerGroups: true,
      persistent: true,
      replaysToNewGroups: true,
      orderedPerKey: true,
      publishDeduplication: publishDeduplication(options.duplicateWindowMs),
      exactlyOnce: false,
      messageBytesMax: options.messageBytesMax,
      scheduling: {
        mode: 'unsupported',
        reason:
          'not built: JetStream counts a message nacked with a delay against max_ack_pending (at most ' +
          '4,096) until redelivered, so a schedule topic would hold only that many waiting messages, and ' +
          'later ones, even due sooner, would wait behind them; use the embedded broker, Kafka or RabbitMQ',
      },
      topicPatterns: NATS_TOPIC_PATTERNS,
    };
    void this.#watchStatus();
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'reconnect') this.#reconnects += 1;
    }
  }

  stats(): NatsTransportStats {
    return { reconnects: this.#reconnects, duplicates: this.#duplicates };
  }

  streams(): readonly string[] {
    const streams = [...this.#streams.keys()].map((topic) => topicNames(this.options.prefix, topic).stream);
    // The lease bucket is a stream too (KV_<bucket>), created on the first subscribe.
    if (this.#kv !== undefined)
      streams.push(`KV_${leaseBucketName(this.options.prefix, this.options.leaseMs)}`);
    return streams;
  }

  async deleteStreams(): Promise<void> {
    const names = this.streams();
    const nc = this.#registry.closed ? await connectWithin(this.options) : this.nc;
    try {
      const jsm = this.#registry.closed ? await jetstreamManager(nc) : this.#jsm;
      for (const name of names) await jsm.streams.delete(name).catch(() => false);
    } finally {
      if (nc !== this.nc) await nc.close().catch(() => {});
    }
  }

  async listTopics(): Promise<string[]> {
    const topics: string[] = [];
    for await (const info of this.#jsm.streams.list()) {
      const topic = this.#topicOf(info.config.name, info.config.subjects);
      if (topic !== undefined) topics.push(topic);
    }
    return topics.sort();
  }

  /** The topic whose stream under this prefix `name` is, if it is one. */
  #topicOf(name: string, subjects: readonly string[] | undefined): string | undefined {
    const subject = subjects?.[0] ?? '';
    const head = `${this.options.prefix}.`;
    if (subjects?.length !== 1 || !subject.startsWith(head) || !subject.endsWith('.*')) return undefined;
    const topic = subject.slice(head.length, -2);
    return topicNames(this.options.prefix, topic).stream === name ? topic : undefined;
  }

  async deletePrefix(): Promise<number> {
    const leases = new RegExp(`^KV_${this.options.prefix}_leases_[0-9]+$`);
    const doomed: string[] = [];
    for await (const info of this.#jsm.streams.list()) {
      const { name, subjects } = info.config;
      if (leases.test(name) || this.#topicOf(name, subjects) !== undefined) doomed.push(name);
    }
    for (const name of doomed) await this.#jsm.streams.delete(name).catch(() => false);
    return doomed.length;
  }

  async publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    this.#registry.assertOpen();
    assertTopicName(topic, 'publish');
    assertSubjectSafeTopic(topic, 'publish');
    const prepared = messages.map((message) => {
      const size = messageSizeBytes(message);
      if (size > this.features.messageBytesMax) {
        throw new PayloadTooLargeError(topic, size, this.features.messageBytesMax);
      }
      return { message, ...toNatsHeaders(topic, message) };
    });
    if (prepared.length === 0) return;
    const names = this.#readyStreams.get(topic) ?? (await this.#stream(topic));
    const { partitions, duplicateWindowMs } = this.options;
    // Pipelined on one connection, so the stream stores them in this order; every ack is awaited
    // before reporting, so a rejection never leaves publishes in the air.
    const acks = prepared.map(({ message, headers }) => {
      const partition =
        message.key === undefined ? this.#roundRobin++ % partitions : partitionOfKey(message.key, partitions);
      const msgID = duplicateWindowMs > 0 ? publishIdentity(message) : undefined;
      return this.js.publish(names.subject(partition), message.body, { headers, msgID });
    });
    const outcomes = await Promise.allSettled(acks);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') throw publishError(topic, outcome.reason);
      if (outcome.value.duplicate) this.#duplicates += 1;
    }
  }

  /** Creates `topic`'s stream once per instance (or finds it); a failure is retried next time. */
  #stream(topic: string): Promise<TopicNames> {
    let known = this.#streams.get(topic);
    if (known === undefined) {
      known = this.#createStream(topic);
      known.then(
        (names) => this.#readyStreams.set(topic, names),
        () => this.#streams.delete(topic),
      );
      this.#streams.set(topic, known);
    }
    return known;
  }

  async #createStream(topic: string): Promise<TopicNames> {
    const names = topicNames(this.options.prefix, topic);
    const config = {
      name: names.stream,
      subjects: [names.subjects],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: this.options.replicas,
      max_bytes: this.options.streamBytesMax,
      max_age: this.options.streamAgeMsMax * NANOS_PER_MS,
      duplicate_window: Math.max(this.options.duplicateWindowMs, 1_000) * NANOS_PER_MS,
    };
    try {
      await this.#jsm.streams.info(names.stream);
      return names;
    } catch (error) {
      if (!/stream not found/i.test(String(error))) throw setupError(`stream ${names.stream}`, error);
    }
    try {
      await this.#jsm.streams.add(config);
    } catch (error) {
      // Another process created it in the meantime: use it.
      const exists = await this.#jsm.streams.info(names.stream).then(
        () => true,
        () => false,
      );
      if (!exists) throw setupError(`stream ${names.stream}`, error);
    }
    return names;
  }

  /** Creates the group's durable consumers on every partition of the stream (once per instance). */
  #groupConsumers(names: TopicNames, group: string): Promise<void> {
    const id = `${names.stream}/${group}`;
    let known = this.#consumers.get(id);
    if (known === undefined) {
      known = (async () => {
        for (let partition = 0; partition < this.options.partitions; partition++) {
          const durable = consumerName(group, partition);
          const exists = await this.#jsm.consumers.info(names.stream, durable).then(
            () => true,
            () => false,
          );
          if (exists) continue;
          await this.#jsm.consumers
            .add(names.stream, {
              durable_name: durable,
              filter_subject: names.subject(partition),
              ack_policy: AckPolicy.Explicit,
              // A new group reads the stream from its start (replay).
              deliver_policy: DeliverPolicy.All,
              ack_wait: this.options.ackWaitMs * NANOS_PER_MS,
              max_deliver: this.options.deliveriesMax,
              max_ack_pending: this.options.ackPendingMax,
            })
            .catch(async (error: unknown) => {
              const raced = await this.#jsm.consumers.info(names.stream, durable).then(
                () => true,
                () => false,
              );
              if (!raced) throw setupError(`consumer ${durable} on stream ${names.stream}`, error);
            });
        }
      })();
      known.catch(() => this.#consumers.delete(id));
      this.#consumers.set(id, known);
    }
    return known;
  }

  /** The lease bucket, created on first use. */
  #leaseBucket(): Promise<KV> {
    if (this.#kv === undefined) {
      const name = leaseBucketName(this.options.prefix, this.options.leaseMs);
      this.#kv = new Kvm(this.js).create(name, {
        ttl: this.options.leaseMs,
        history: 1,
        replicas: this.options.replicas,
      });
      this.#kv.catch(() => {
        this.#kv = undefined;
      });
    }
    return this.#kv.catch((error: unknown) => {
      throw setupError(`lease bucket ${leaseBucketName(this.options.prefix, this.options.leaseMs)}`, error);
    });
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    this.#registry.assertOpen();
    if (isTopicPattern(options.topic)) return this.#patterns.subscribe(options, handler);
    assertSubscribeOptions(options);
    assertSubjectSafeTopic(options.topic, 'subscribe');
    const names = await this.#stream(options.topic);
    await this.#groupConsumers(names, options.group);
    const kv = await this.#leaseBucket();
    this.#registry.assertOpen();
    const subscription = new GroupSubscription(this, kv, names.stream, options, handler);
    return this.#registry.start(subscription, () => subscription.start());
  }

  forget(subscription: GroupSubscription): void {
    this.#registry.forget(subscription);
  }

  acked(): void {
    this.#lastAckMs = Date.now();
  }

  close(): Promise<void> {
    return this.#registry.close((subscriptions) => this.#close(subscriptions));
  }

  async #close(subscriptions: readonly GroupSubscription[]): Promise<void> {
    this.#patterns.close();
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
    const writtenMs = this.#lastAckMs + CONSUMER_STATE_WRITE_MS - Date.now();
    if (writtenMs > 0) await new Promise((resolve) => setTimeout(resolve, writtenMs));
    // flush() before close: acks and naks already written reach the server.
    await this.nc.flush().catch(() => {});
    await this.nc.close().catch(() => {});
  }
}
