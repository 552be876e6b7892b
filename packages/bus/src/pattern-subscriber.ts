/**
 * The topic-pattern wiring every transport with patterns shared (memory, embedded, Kafka, NATS,
 * Redis each kept a copy): check the options, build the pattern subscription from the transport's
 * own per-topic `subscribe`, watch for new topics (or poll the topic list where the broker
 * announces none), warn of a failed new topic unless the transport is closing, and stop every
 * poll when the transport closes.
 */
import { subscribeToPattern } from './pattern-subscription.ts';
import { pollTopics, TOPIC_LIST_POLL_MS } from './topic-poller.ts';
import type { MessageHandler, SubscribeOptions, Subscription } from './transport.ts';
import { assertSubscribeOptions } from './transport-checks.ts';

/** What a transport tells its {@link PatternSubscriber}. */
export interface PatternHost {
  /** Names the transport in warnings, e.g. `kafka transport`. */
  readonly name: string;
  /** The names of the topics that exist now. */
  listTopics(): Iterable<string> | Promise<Iterable<string>>;
  /**
   * Calls `listener` with each topic created from now on; returns the function that stops it.
   * Omitted where the broker announces no new topics: `listTopics` is then polled every
   * `pollMs`.
   */
  watchTopics?(listener: (topic: string) => void): () => void;
  /** The transport's own subscribe, called with one topic (a name, not a pattern). */
  subscribeTopic(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription>;
  /** True once the transport closes: a failure then is expected, and not warned about. */
  closed(): boolean;
  /** Describes a failed subscription in the warning (default `String(error)`). */
  describeError?(error: unknown): string;
  /** How often the topic list is polled when `watchTopics` is omitted, in ms. */
  readonly pollMs?: number;
}

/**
 * One transport's topic-pattern subscriptions. Holds one poll-stopper per open pattern
 * subscription of a polling transport, so it is bounded by the subscriptions the application
 * opened; {@link PatternSubscriber.close} stops them all.
 */
export class PatternSubscriber {
  readonly #host: PatternHost;
  /** Stops the topic-list polls of open pattern subscriptions (one each). */
  readonly #polls = new Set<() => void>();

  constructor(host: PatternHost) {
    this.#host = host;
  }

  /**
   * Checks `options` (a pattern is allowed) and subscribes `options.group` to every topic matching
   * `options.topic`, now and later (see `subscribeToPattern`).
   */
  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    assertSubscribeOptions(options, true);
    const host = this.#host;
    const describe = host.describeError ?? String;
    return subscribeToPattern(options, handler, {
      topics: () => host.listTopics(),
      watchTopics: (listener) => this.#watch(listener),
      subscribe: (topicOptions, topicHandler) => host.subscribeTopic(topicOptions, topicHandler),
      onError: (topic, error) => {
        if (!host.closed()) {
          process.emitWarning(`${host.name}: pattern subscription to "${topic}" failed: ${describe(error)}`);
        }
      },
    });
  }

  /** Stops every topic-list poll; the per-topic subscriptions close with the transport's own. */
  close(): void {
    for (const stop of this.#polls) stop();
    this.#polls.clear();
  }

  #watch(listener: (topic: string) => void): () => void {
    const host = this.#host;
    if (host.watchTopics !== undefined) return host.watchTopics(listener);
    const stop = pollTopics(() => host.listTopics(), listener, host.pollMs ?? TOPIC_LIST_POLL_MS);
    this.#polls.add(stop);
    return () => {
      this.#polls.delete(stop);
      stop();
    };
  }
}
