/**
 * The Transport contract: what every broker adapter (memory, embedded log, Kafka, RabbitMQ…)
 * promises to the bus. The bus never talks to a broker any other way, so an adapter that honours
 * this contract — proven by `@herald/conformance` — runs every Herald application unchanged.
 *
 * Delivery is at-least-once: a message is delivered until some consumer of its group acks it.
 */
import type { TransportMessage } from './envelope.ts';
import type { TransportHealth } from './health.ts';

export type { TransportMessage } from './envelope.ts';

/**
 * A message handed to a subscriber. Exactly one of `ack` or `nack` settles it. Call them as
 * methods (`message.ack()`, also on a spread copy of the message): a transport may share one
 * function across its messages rather than build closures per delivery (those of
 * `DeliveryWindow` do, and throw a `TypeError` when called detached).
 */
export interface ReceivedMessage extends TransportMessage {
  /** The topic it was read from. */
  readonly topic: string;
  /** Partition (or shard) it was read from; 0 where the transport has none. */
  readonly partition: number;
  /**
   * Position in the partition as a decimal string (a Kafka offset, a stream sequence…), or a
   * transport-specific delivery id where the broker has no positions. Informational.
   */
  readonly offset: string;
  /** 1 on first delivery, incremented on each redelivery the transport knows of. */
  readonly deliveryAttempt: number;
  /** Milliseconds since the epoch when the broker accepted the message. */
  readonly timestampMs: number;
  /**
   * Marks the message processed for its group. Resolves once the transport recorded it (for
   * log transports: the group's committed position may move past it once every earlier message
   * is acked too). Settling twice, or after the subscription closed, is a no-op: the message is
   * then simply redelivered later, which at-least-once allows.
   */
  ack(): Promise<void>;
  /**
   * Returns the message for redelivery to the same group after `delayMs` (default 0). On
   * transports with `orderedPerKey`, no later message with the same key is delivered before
   * this one is redelivered and acked.
   */
  nack(options?: { readonly delayMs?: number }): Promise<void>;
}

/** Called for each delivered message. A rejected promise is the subscriber's bug: the transport nacks. */
export type MessageHandler = (message: ReceivedMessage) => Promise<void>;

/** How to subscribe. */
export interface SubscribeOptions {
  /**
   * The topic to read, or a topic pattern (`orders.*`) where `features.topicPatterns.mode` is
   * `supported`: then every matching topic, including those created later.
   */
  readonly topic: string;
  /**
   * The consumer group. Every group receives every message of the topic; within a group each
   * message goes to one subscriber (competing consumers).
   */
  readonly group: string;
  /**
   * Most messages delivered to this subscriber and not yet settled (1…{@link IN_FLIGHT_MAX}).
   * Messages with different keys may be in flight together; see {@link TransportFeatures.orderedPerKey}.
   */
  readonly inFlightMax: number;
  /**
   * Event types the subscriber wants, as a routing hint (RabbitMQ binds only these routing keys).
   * Transports may deliver other types too; the bus filters.
   */
  readonly types?: readonly string[];
}

/** Upper bound of {@link SubscribeOptions.inFlightMax} on every transport. */
export const IN_FLIGHT_MAX = 4096;

/** A live subscription. */
export interface Subscription {
  /**
   * Stops delivering new messages. Resolves once the subscriber will receive nothing more;
   * messages delivered but not settled are redelivered later (to this group). Idempotent (a
   * second call returns the first call's promise and ignores its options) and safe to call while
   * handlers run; a handler that settles after close does nothing. With `options.timeoutMs`, a
   * subscription that waits on a broker while closing (a last commit, leaving a group) waits at
   * most that long, or its own bound if shorter.
   */
  close(options?: CloseOptions): Promise<void>;
}

/** What a transport can promise; the conformance suite adapts its scenarios to these. */
export interface TransportFeatures {
  /** Each group gets every message; members of one group share them. */
  readonly consumerGroups: boolean;
  /** Accepted messages survive a restart of the transport (and of its broker). */
  readonly persistent: boolean;
  /**
   * A group that subscribes for the first time receives messages published before it
   * subscribed (from the start of the retained log).
   */
  readonly replaysToNewGroups: boolean;
  /**
   * Where `replaysToNewGroups` is false, the topics that still replay to new groups (RabbitMQ keeps
   * dead-letter topics as streams so `bus.deadLetters` can read them). Absent: none.
   */
  readonly replaysTopic?: (topic: string) => boolean;
  /**
   * Messages with the same key are delivered in publish order, and the next message of a key is
   * not delivered to a group until the previous one is acked.
   */
  readonly orderedPerKey: boolean;
  /**
   * Present when the members of one group do not share its messages: one member receives
   * everything while the others stand by to take over (e.g. RabbitMQ's single active consumer per
   * queue). The value says why, for the conformance suite's report. Absent: members share them.
   */
  readonly singleActiveConsumer?: string;
  /**
   * Present when the broker drops a copy of a message published again (same CloudEvents id `ce_id`
   * and content) within some window (e.g. SNS FIFO deduplication: 5 minutes), so a deliberate re-publish is not
   * delivered twice. The value says how, for the conformance suite's report. Absent: every publish
   * is delivered.
   */
  readonly publishDeduplication?: string;
  /** Each message is delivered once even across failures (no transport promises this yet). */
  readonly exactlyOnce: boolean;
  /** Largest message (body + headers + key, see `messageSizeBytes`) that `publish` accepts. */
  readonly messageBytesMax: number;
  /**
   * Whether and how the transport keeps scheduled messages (`publish` with `deliverAt` or
   * `delayMs`). Absent: not supported (the bus rejects a scheduled publish with `ScheduleError`
   * `SCHEDULE_UNSUPPORTED`, and the conformance suite skips its scheduling scenarios).
   */
  readonly scheduling?: SchedulingFeature;
  /**
   * Whether {@link Transport.subscribe} takes a topic pattern (`orders.*`, see `topic-pattern.ts`)
   * as `topic`. Absent: not supported (the bus refuses `topicPattern` with `ConfigurationError`,
   * and the conformance suite skips its pattern scenarios).
   */
  readonly topicPatterns?: TopicPatternsFeature;
}

/**
 * How a transport subscribes to a topic pattern:
 * - `supported`: every existing topic that matches, and every matching topic created later
 *   (within `newTopicsMsMax` of its creation), is delivered to the group as one subscription;
 * - `unsupported`: not available, for the reason given.
 */
export type TopicPatternsFeature =
  | {
      readonly mode: 'supported';
      /** How new topics are found, for the conformance report. */
      readonly guarantee: string;
      /** Longest time from a matching topic's creation until the subscription reads it, in ms. */
      readonly newTopicsMsMax: number;
    }
  | { readonly mode: 'unsupported'; readonly reason: string };

/**
 * How a transport keeps scheduled messages:
 * - `native`: the transport's {@link Transport.scheduler} keeps them (the embedded broker's
 *   persisted schedule, the memory transport's timers);
 * - `schedule-topic`: the bus keeps them on the transport itself, in the topic
 *   `herald.schedule`, and each transport object runs one scheduler, while a bus on it is started,
 *   that publishes them when due (see `schedule/topic-scheduler.ts`, `schedule/shared-scheduler.ts`); `nackDelayStepsMs` are the nack delays the transport
 *   honours without rounding up (RabbitMQ's retry queues), absent when every delay is honoured;
 * - `unsupported`: not available, for the reason given.
 */
export type SchedulingFeature =
  | {
      readonly mode: 'native';
      /** What the transport guarantees (durability, lateness), for the conformance report. */
      readonly guarantee: string;
      /** Furthest ahead a message may be scheduled, in ms (at most {@link SCHEDULE_HORIZON_MS_MAX}). */
      readonly horizonMsMax: number;
    }
  | {
      readonly mode: 'schedule-topic';
      /** What the transport guarantees (durability, lateness), for the conformance report. */
      readonly guarantee: string;
      /** Furthest ahead a message may be scheduled, in ms (at most {@link SCHEDULE_HORIZON_MS_MAX}). */
      readonly horizonMsMax: number;
      /**
       * Nack delays honoured exactly although longer than the transport's in-process hold, in
       * ascending order (RabbitMQ's retry-queue buckets); the scheduler never asks for a delay
       * longer than a step nor than the in-process hold `nackHoldMsMax`.
       */
      readonly nackDelayStepsMs?: readonly number[];
      /** Longest nack delay the transport holds exactly in process (e.g. below its retry queues). */
      readonly nackHoldMsMax: number;
    }
  | {
      readonly mode: 'unsupported';
      /** Why, for the conformance report and the error a scheduled publish gets. */
      readonly reason: string;
    };

/** Furthest ahead any transport accepts a scheduled message: 30 days. */
export const SCHEDULE_HORIZON_MS_MAX = 30 * 24 * 60 * 60 * 1000;

/** What cancelling a scheduled message achieved. */
export type CancelOutcome =
  /** The message was still waiting and will not be delivered. */
  | 'cancelled'
  /** Nothing waits under that id: it was delivered, cancelled before, or never scheduled. */
  | 'not-pending'
  /**
   * The transport cannot tell at once (a schedule topic): the cancellation is recorded durably and
   * the scheduler drops the message if it is still waiting when the cancellation reaches it.
   */
  | 'requested';

/**
 * A transport's own keeper of scheduled messages (`features.scheduling.mode === 'native'`).
 * The message's id is its CloudEvents id (`ce_id` header).
 */
export interface TransportScheduler {
  /**
   * Keeps `message` and publishes it to `topic` at `deliverAtMs` (ms since the epoch; a time in
   * the past means now). Resolves once it is kept at the transport's durability level (embedded:
   * fsynced). Rejects with `ScheduleError` (`SCHEDULE_FULL`, retriable) when the transport's bound
   * on waiting messages is reached, with `ClosedError` after `close()`.
   */
  schedule(topic: string, message: TransportMessage, deliverAtMs: number): Promise<void>;
  /** Cancels the waiting message with CloudEvents id `id`; resolves with what that achieved. */
  cancel(id: string): Promise<CancelOutcome>;
}

/** True when a group that subscribes to `topic` for the first time reads it from its start. */
export function replaysToNewGroup(features: TransportFeatures, topic: string): boolean {
  return features.replaysToNewGroups || (features.replaysTopic?.(topic) ?? false);
}

/** A connection to a broker. */
export interface Transport {
  /** Short name for logs and errors, e.g. `memory`, `embedded`, `kafka`. */
  readonly name: string;
  /** What the transport promises. */
  readonly features: TransportFeatures;
  /**
   * Publishes messages to `topic`, in order. Resolves only when the broker has accepted every one
   * durably (to the transport's documented durability level); rejects if any was not, in which case
   * some may still have been accepted (the caller may retry: consumers deduplicate by id).
   * Rejects with `PayloadTooLargeError` before sending anything if a message is over
   * `features.messageBytesMax`, and with `ClosedError` after `close()`.
   */
  publish(topic: string, messages: readonly TransportMessage[]): Promise<void>;
  /**
   * Starts delivering messages of `options.topic` to `handler` as a member of `options.group`.
   * Resolves once the subscription is registered with the broker, so a message published after
   * that reaches the group. Rejects with `ClosedError` after `close()`.
   */
  subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription>;
  /**
   * Closes every subscription and the connection. Idempotent (a second call returns the first
   * call's promise and ignores its options); safe while handlers run (their later ack/nack do
   * nothing and their messages are redelivered to the group by persistent transports). After it
   * resolves, the transport holds no timers, sockets or file handles. With `options.timeoutMs`, a
   * transport that waits on a broker while closing (a last commit, leaving a group) waits at most
   * that long, or its own bound if shorter, before it drops its connections.
   */
  close(options?: CloseOptions): Promise<void>;
  /**
   * Optional: the connection's state as the transport last saw it, for `bus.health()` and
   * readiness probes. Synchronous and cheap — it must not talk to the broker, since probes call it
   * often; it reports what publishes, fetches, heartbeats or reconnects already observed (see
   * `ConnectionHealth` for the bookkeeping). `connected` is false after `close()`. Absent, the bus
   * judges the connection from its own calls: connected unless its last publish or subscribe
   * failed, or the transport is closed.
   */
  health?(): TransportHealth;
  /** Present when `features.scheduling.mode` is `native`: keeps scheduled messages. */
  readonly scheduler?: TransportScheduler;
}

/** Options of {@link Transport.close} and {@link Subscription.close}. */
export interface CloseOptions {
  /**
   * Longest wait for the broker while closing (default: the transport's own bound, such as the
   * Kafka transport's `closeTimeoutMs`); a transport never waits longer than its own bound. 0: do
   * not wait, drop the connections at once. Releasing timers, sockets and handles after the wait
   * is not counted: a transport bounds that on its own. `bus.stop` passes what is left of its
   * `timeoutMs`.
   */
  readonly timeoutMs?: number;
}
