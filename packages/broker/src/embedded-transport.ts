/**
 * `embeddedTransport({dir})`: Herald's default durable transport. The broker runs inside the
 * application's process over `@herald/log`; nothing to install or start, and messages survive
 * restarts of the process.
 */
import {
  ClosedError,
  ConnectionHealth,
  isConnectionFailure,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportFeatures,
  type TransportHealth,
  type TransportMessage,
} from '@herald/bus';
import type { Broker } from './broker.ts';
import type { BrokerOptions } from './broker-types.ts';
import { openBroker } from './open-broker.ts';

/** Options of {@link embeddedTransport}: the broker's options (see {@link BrokerOptions}). */
export type EmbeddedTransportOptions = BrokerOptions;

/** The embedded transport; `broker` gives access to topic and group administration. */
export interface EmbeddedTransport extends Transport {
  /** The broker underneath (topics, group positions, resets). */
  readonly broker: Broker;
  /** Connected while the broker is open and its last write succeeded; see {@link Transport.health}. */
  health(): TransportHealth;
}

/**
 * Opens the broker in `options.dir` (default `HERALD_DATA_DIR` or `./.herald`) and returns a
 * Transport over it. Rejects with `DirectoryLockedError` (naming the holder) when another broker
 * has the directory open.
 */
export async function embeddedTransport(options: EmbeddedTransportOptions = {}): Promise<EmbeddedTransport> {
  const broker = await openBroker(options);
  return new Embedded(broker);
}

class Embedded implements EmbeddedTransport {
  readonly name = 'embedded';
  readonly features: TransportFeatures;
  readonly broker: Broker;
  readonly #subscriptions = new Set<Subscription>();
  /** Write failures (a full or read-only disk) make the broker unready until a write succeeds. */
  readonly #health = new ConnectionHealth();

  constructor(broker: Broker) {
    this.broker = broker;
    this.features = {
      consumerGroups: true,
      persistent: true,
      replaysToNewGroups: true,
      orderedPerKey: true,
      exactlyOnce: false,
      messageBytesMax: broker.messageBytesMax,
    };
  }

  async publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    if (this.broker.closed) throw new ClosedError('embedded transport');
    try {
      await this.broker.publish(topic, messages);
    } catch (error) {
      if (!this.broker.closed && isConnectionFailure(error)) this.#health.failed('publish', error);
      throw error;
    }
    this.#health.recovered('publish');
  }

  /** In-process: connected while the broker is open and its last write did not fail. */
  health(): TransportHealth {
    return this.#health.report(this.broker.closed);
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    if (this.broker.closed) throw new ClosedError('embedded transport');
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
    await this.broker.close();
  }
}
