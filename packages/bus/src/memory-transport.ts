/**
 * `memoryTransport()`: an in-process transport for unit tests and examples. It honours the whole
 * Transport contract (groups, competing consumers, per-key order, ack/nack and redelivery) but
 * keeps everything in memory: nothing survives the process.
 */

import { Delivered, DeliveryWindow, type PendingEntry, waitingEntry } from './delivery-window.ts';
import { messageSizeBytes, type TransportMessage } from './envelope.ts';
import { ClosedError, PayloadTooLargeError, TransportError } from './errors.ts';
import type { TransportHealth } from './health.ts';
import { KeyedFifo } from './keyed-fifo.ts';
import { assertTopicName } from './names.ts';
import { PatternSubscriber } from './pattern-subscriber.ts';
import { MemoryScheduler } from './schedule/memory-scheduler.ts';
import { isTopicPattern } from './topic-pattern.ts';
import {
  type MessageHandler,
  SCHEDULE_HORIZON_MS_MAX,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportFeatures,
} from './transport.ts';
import { assertSubscribeOptions } from './transport-checks.ts';

/** Options of {@link memoryTransport}. */
export interface MemoryTransportOptions {
  /** Largest message accepted (default 1 MiB). */
  readonly messageBytesMax?: number;
  /** Messages retained per topic; publishing beyond it rejects (default 100,000). */
  readonly messagesPerTopicMax?: number;
  /** Scheduled messages waiting at once; scheduling beyond it rejects with `SCHEDULE_FULL` (default 100,000). */
  readonly scheduledMax?: number;
}

/** How many unsettled messages one group tracks at once; later ones wait in the topic's log. */
const GROUP_WINDOW_MAX = 10_000;

interface StoredMessage extends TransportMessage {
  readonly sequence: number;
  readonly timestampMs: number;
}

interface Pending extends PendingEntry {
  readonly stored: StoredMessage;
}

interface Group {
  /** Index in the topic log of the next message to bring into the window. */
  cursor: number;
  /** Unacked messages from the log, in publish order (at most GROUP_WINDOW_MAX). */
  readonly window: KeyedFifo<Pending>;
  readonly delivery: DeliveryWindow<Pending>;
}

interface Topic {
  readonly log: StoredMessage[];
  readonly groups: Map<string, Group>;
}

/** Creates an in-memory transport. Each call is an independent broker. */
export function memoryTransport(options: MemoryTransportOptions = {}): Transport {
  return new MemoryTransport(options);
}

class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly features: TransportFeatures;
  readonly #messagesPerTopicMax: number;
  readonly #topics = new Map<string, Topic>();
  /** Pattern subscriptions waiting for new topics (one per pattern subscription, so bounded by them). */
  readonly #topicWatchers = new Set<(topic: string) => void>();
  /** Topic-pattern subscriptions, told of each new topic through `#topicWatchers`. */
  readonly #patterns = new PatternSubscriber({
    name: 'memory transport',
    listTopics: () => this.#topics.keys(),
    watchTopics: (listener) => {
      this.#topicWatchers.add(listener);
      return () => this.#topicWatchers.delete(listener);
    },
    subscribeTopic: (options, handler) => this.subscribe(options, handler),
    closed: () => this.#closed,
  });
  readonly scheduler: MemoryScheduler;
  #closed = false;

  constructor(options: MemoryTransportOptions) {
    this.features = {
      consumerGroups: true,
      persistent: false,
      replaysToNewGroups: true,
      orderedPerKey: true,
      exactlyOnce: false,
      messageBytesMax: options.messageBytesMax ?? 1024 * 1024,
      scheduling: {
        mode: 'native',
        guarantee: 'in-process timers, lost with the process like every message of this transport',
        horizonMsMax: SCHEDULE_HORIZON_MS_MAX,
      },
      topicPatterns: {
        mode: 'supported',
        guarantee:
          'a topic is subscribed when its first publish or subscribe creates it, before its first message',
        newTopicsMsMax: 0,
      },
    };
    this.#messagesPerTopicMax = options.messagesPerTopicMax ?? 100_000;
    // A due message that cannot be published (the topic is full) is lost with a warning: this
    // transport keeps nothing durably anyway.
    this.scheduler = new MemoryScheduler(
      (topic, messages) => this.publish(topic, messages),
      options.scheduledMax ?? 100_000,
      (error) => process.emitWarning(`memory transport: a scheduled message was lost: ${String(error)}`),
    );
  }

  async publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    if (this.#closed) throw new ClosedError('memory transport');
    assertTopicName(topic, 'publish');
    for (const message of messages) {
      const size = messageSizeBytes(message);
      if (size > this.features.messageBytesMax)
        throw new PayloadTooLargeError(topic, size, this.features.messageBytesMax);
    }
    const state = this.#topic(topic);
    if (state.log.length + messages.length > this.#messagesPerTopicMax) {
      throw new TransportError(
        `memory transport: topic "${topic}" holds ${state.log.length} messages, its limit is ` +
          `${this.#messagesPerTopicMax}; raise messagesPerTopicMax or use the embedded transport`,
        { retriable: false },
      );
    }
    const timestampMs = Date.now();
    for (const message of messages) {
      state.log.push({
        key: message.key,
        headers: { ...message.headers },
        body: message.body.slice(),
        sequence: state.log.length,
        timestampMs,
      });
    }
    for (const group of state.groups.values()) group.delivery.pump();
  }

  /** In-process: connected until closed. */
  health(): TransportHealth {
    return this.#closed ? { connected: false, detail: 'closed' } : { connected: true };
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('memory transport');
    assertSubscribeOptions(options, true);
    if (isTopicPattern(options.topic)) return this.#patterns.subscribe(options, handler);
    const state = this.#topic(options.topic);
    let group = state.groups.get(options.group);
    if (group === undefined) {
      group = this.#group(options.topic, state.log);
      state.groups.set(options.group, group);
    }
    const member = group.delivery.join(handler, options.inFlightMax);
    const delivery = group.delivery;
    return { close: async () => delivery.leave(member) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.scheduler.close();
    for (const topic of this.#topics.values()) {
      for (const group of topic.groups.values()) group.delivery.close();
    }
  }

  #topic(name: string): Topic {
    let topic = this.#topics.get(name);
    if (topic === undefined) {
      topic = { log: [], groups: new Map() };
      this.#topics.set(name, topic);
      for (const watcher of [...this.#topicWatchers]) watcher(name);
    }
    return topic;
  }

  /** A new group reading `log` from its start; acked messages leave its window. */
  #group(topic: string, log: readonly StoredMessage[]): Group {
    // Counting unsettled messages only: acked ones leave the window, as nothing is committed.
    const window = new KeyedFifo<Pending>({ entriesMax: GROUP_WINDOW_MAX, counting: 'unsettled' });
    const windows = [window];
    const group: Group = {
      cursor: 0,
      window,
      delivery: new DeliveryWindow<Pending>({
        beforeScan: () => {
          while (window.hasRoom() && group.cursor < log.length) {
            const stored = log[group.cursor++]!;
            window.enqueue({ stored, ...waitingEntry() }, stored.key);
          }
          return undefined;
        },
        windows: () => windows,
        message: ({ stored }, attempt, hold) =>
          new Delivered(
            topic,
            0,
            String(stored.sequence),
            stored.key,
            stored.headers,
            stored.body,
            stored.timestampMs,
            attempt,
            hold,
          ),
        onAck: () => undefined,
      }),
    };
    return group;
  }
}
