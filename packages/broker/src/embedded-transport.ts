/**
 * `embeddedTransport({dir})`: Herald's default durable transport. The broker runs inside the
 * application's process over `@herald/log`; nothing to install or start, and messages survive
 * restarts of the process.
 */
import {
  ClosedError,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportFeatures,
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
    await this.broker.publish(topic, messages);
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
