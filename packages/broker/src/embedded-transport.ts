/**
 * `embeddedTransport({dir})`: Herald's default durable transport. The broker runs inside the
 * application's process over `@herald/log`; nothing to install or start, and messages survive
 * restarts of the process.
 */
import {
  ClosedError,
  ConfigurationError,
  ConnectionHealth,
  isConnectionFailure,
  isTopicPattern,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportFeatures,
  type TransportHealth,
  type TransportMessage,
  type TransportScheduler,
} from '@herald/bus';
import { PatternSubscriber } from '@herald/bus/internal';
import type { Broker } from './broker.ts';
import { BrokerScheduler } from './broker-scheduler.ts';
import type { BrokerOptions } from './broker-types.ts';
import { openBroker } from './open-broker.ts';
import type { PublishHooks } from './publish-path.ts';

/** Options of {@link embeddedTransport}: the broker's options (see {@link BrokerOptions}) and the schedule's bounds. */
export interface EmbeddedTransportOptions extends BrokerOptions {
  /** Most scheduled messages waiting at once; more reject with `SCHEDULE_FULL` (default 100,000). */
  readonly scheduledMax?: number;
  /** Most bytes of scheduled messages waiting at once, all kept in memory (default 64 MiB). */
  readonly scheduledBytesMax?: number;
}

/** Furthest ahead the embedded broker schedules a message: 30 days. */
const EMBEDDED_SCHEDULE_HORIZON_MS = 30 * 24 * 60 * 60 * 1000;

/** The embedded transport; `broker` gives access to topic and group administration. */
export interface EmbeddedTransport extends Transport {
  /** The broker underneath (topics, group positions, resets). */
  readonly broker: Broker;
  /** Connected while the broker is open and its last write succeeded; see {@link Transport.health}. */
  health(): TransportHealth;
  /** The persisted schedule of messages published with `deliverAt` / `delayMs`. */
  readonly scheduler: TransportScheduler;
}

/**
 * Opens the broker in `options.dir` (default `HERALD_DATA_DIR` or `./.herald`) and returns a
 * Transport over it. Rejects with `DirectoryLockedError` (naming the holder) when another broker
 * has the directory open.
 */
export async function embeddedTransport(options: EmbeddedTransportOptions = {}): Promise<EmbeddedTransport> {
  const scheduledMax = positive(options.scheduledMax ?? 100_000, 'scheduledMax');
  const scheduledBytesMax = positive(options.scheduledBytesMax ?? 64 * 1024 * 1024, 'scheduledBytesMax');
  const broker = await openBroker(options);
  try {
    const scheduler = await BrokerScheduler.open({
      directory: broker.directory,
      fsync: options.fsync ?? 'always',
      messageBytesMax: broker.messageBytesMax,
      limits: { scheduledMax, scheduledBytesMax },
      publish: (topic, messages) => broker.publish(topic, messages),
      onError: (error) => options.onError?.(error),
      ...(options.fileSystem === undefined ? {} : { fileSystem: options.fileSystem }),
    });
    return new Embedded(broker, scheduler);
  } catch (error) {
    await broker.close().catch(() => {});
    throw error;
  }
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ConfigurationError(
      `embeddedTransport: ${name} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

class Embedded implements EmbeddedTransport {
  readonly name = 'embedded';
  readonly features: TransportFeatures;
  readonly broker: Broker;
  readonly scheduler: BrokerScheduler;
  readonly #subscriptions = new Set<Subscription>();
  /** Write failures (a full or read-only disk) make the broker unready until a write succeeds. */
  readonly #health = new ConnectionHealth();
  /** Topic-pattern subscriptions, told of each new topic by the broker's topic catalogue. */
  readonly #patterns = new PatternSubscriber({
    name: 'embedded transport',
    listTopics: () => this.broker.listTopics(),
    watchTopics: (listener) => this.broker.watchTopics(listener),
    subscribeTopic: (options, handler) => this.subscribe(options, handler),
    closed: () => this.broker.closed,
  });

  constructor(broker: Broker, scheduler: BrokerScheduler) {
    this.broker = broker;
    this.scheduler = scheduler;
    this.features = {
      consumerGroups: true,
      persistent: true,
      replaysToNewGroups: true,
      orderedPerKey: true,
      exactlyOnce: false,
      messageBytesMax: broker.messageBytesMax,
      scheduling: {
        mode: 'native',
        guarantee:
          'a journal in the data directory, fsynced before the publish resolves; one timer for the ' +
          'earliest message; delivered after a restart; a crash while a due message is appended may ' +
          'deliver it twice with the same id',
        horizonMsMax: EMBEDDED_SCHEDULE_HORIZON_MS,
      },
      topicPatterns: {
        mode: 'supported',
        guarantee:
          'the broker tells the subscription of each topic it opens (created, or auto-created by a first ' +
          'publish); a new group reads a new topic from its start, so its first messages are not missed',
        newTopicsMsMax: 0,
      },
    };
  }

  publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    if (this.broker.closed) return Promise.reject(new ClosedError('embedded transport'));
    // The broker tells #publishes how the publish ended before its promise settles: no `then` of
    // the transport's own (a promise and a microtask per publish).
    return this.broker.publishObserved(topic, messages, this.#publishes);
  }

  /** Write failures make the transport unready until a publish succeeds. */
  readonly #publishes: PublishHooks = {
    published: () => this.#health.recovered('publish'),
    failed: (error) => {
      if (!this.broker.closed && isConnectionFailure(error)) this.#health.failed('publish', error);
    },
  };

  /** In-process: connected while the broker is open and its last write did not fail. */
  health(): TransportHealth {
    return this.#health.report(this.broker.closed);
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    if (this.broker.closed) throw new ClosedError('embedded transport');
    if (isTopicPattern(options.topic)) return this.#patterns.subscribe(options, handler);
    const subscription = await this.broker.subscribe(options, handler);
    this.#subscriptions.add(subscription);
    return {
      close: async () => {
        this.#subscriptions.delete(subscription);
        await subscription.close();
      },
    };
  }

  async close(): Promise<void> {
    await this.scheduler.close();
    await this.broker.close();
  }
}
