/**
 * One subscription: a channel consuming every shard queue of its group, with per-key order kept
 * in the process by the bus's `KeyedFifo` and `DeliveryWindow` (the same as the memory transport
 * and the embedded broker use). RabbitMQ delivers each shard in queue order (up to `prefetch`
 * ahead); a message goes to the handler only once every earlier message of its key is acked, up to
 * `inFlightMax` at a time; a nacked keyless message with a long delay goes to a retry queue, any
 * other is held in the process for its delay (at most `holdDelayMsMax`), its key blocked. A held or
 * prefetched message stays unacked on the broker, so a crash or a lost connection returns it to
 * the queue. The window counts unsettled messages only (at most shards × prefetch, what the broker
 * may send unacked): RabbitMQ forgets a message once it is acked.
 *
 * After a lost connection (or a channel the broker closed) the subscription declares its topology
 * again on a new channel and resumes; deliveries of the old channel become stale (their ack and
 * nack do nothing, RabbitMQ redelivers them).
 *
 * On a replay topic the subscription reads the topic's stream queue instead, from its first
 * retained message (`x-stream-offset: first`). Streams keep messages after an ack (acks only grant
 * credit) and refuse nacks, so nacked messages are always held in the process, and after a
 * reconnect the subscription resumes at its oldest unacked offset. The position lives in the
 * subscription only: see the README's limits.
 *
 * A pattern subscription (`orders.*`) is a group like any other, bound to the pattern exchange
 * (see `topic-patterns.ts`); each delivery's topic is its exchange's name without the prefix, or
 * the `herald-topic` header where that cannot tell it.
 */

import {
  ConfigurationError,
  isTopicPattern,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
} from '@herald/bus';
import { Delivered, DeliveryWindow, KeyedFifo, type PendingEntry } from '@herald/bus/internal';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { ConnectionManager, Live } from './connection.ts';
import { fromAmqpHeaders, type HeraldFields } from './headers.ts';
import { type GroupNames, streamQueueName } from './names.ts';
import type { ResolvedOptions } from './options.ts';
import { topicMatcher } from './topic-patterns.ts';
import { type DeclaredTopology, declareGroup, declareTopic } from './topology.ts';

/** What a subscription needs from its transport. */
export interface SubscriptionHost {
  readonly options: ResolvedOptions;
  readonly connection: ConnectionManager;
  readonly declared: DeclaredTopology;
  /**
   * Sends a copy of `message` through the group's retry queue for `delayMs`, counting
   * `priorAttempts` deliveries and naming `topic` if given; resolves once RabbitMQ confirmed the copy.
   */
  retryLater(
    names: GroupNames,
    message: ConsumeMessage,
    priorAttempts: number,
    delayMs: number,
    topic: string | undefined,
  ): Promise<void>;
  /** The subscription closed. */
  forget(subscription: GroupSubscription): void;
}

interface Delivery {
  readonly message: ConsumeMessage;
  /** The message's topic (the subscription's, or the matching one of a pattern subscription). */
  readonly topic: string;
  readonly shard: number;
  readonly fields: HeraldFields;
  readonly timestampMs: number;
  /** Position in the stream, on replay topics. */
  readonly streamOffset: number | undefined;
}

/** The state of one channel incarnation; replaced wholesale after a reconnect. */
interface Incarnation {
  readonly channel: Channel;
  readonly generation: number;
  /** The group's names; undefined on replay topics, which read the topic's stream. */
  readonly names: GroupNames | undefined;
  /** The unsettled messages in arrival order, per-key ordered. */
  readonly order: KeyedFifo<GateEntry>;
  /** Hands ready messages to the handler and settles them. */
  readonly delivery: DeliveryWindow<GateEntry>;
  /** Set by {@link closeGate}: messages still arriving are not taken in. */
  closed: boolean;
  drainScheduled: boolean;
}

/** A live subscription of one group member. */
export class GroupSubscription implements Subscription {
  readonly #host: SubscriptionHost;
  readonly #options: SubscribeOptions;
  readonly #handler: MessageHandler;
  readonly #patterns: readonly string[];
  #incarnation: Incarnation | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #unlisten: () => void = () => {};
  #retryTimer: NodeJS.Timeout | undefined;
  #setupFailures = 0;
  /** Replay topic: read the stream queue, tracking offsets here. */
  readonly #stream: boolean;
  /** Stream offsets delivered and not yet acked (kept across reconnects). */
  readonly #unacked = new Set<number>();
  /** Highest stream offset delivered so far, -1 before the first. */
  #highestOffset = -1;
  /** First stream offset the current consumer asked for. */
  #startOffset = 0;
  /** For a pattern subscription: whether a topic matches it. */
  readonly #matches: ((topic: string) => boolean) | undefined;

  constructor(host: SubscriptionHost, options: SubscribeOptions, handler: MessageHandler) {
    this.#host = host;
    this.#options = options;
    this.#handler = handler;
    const types = options.types !== undefined && options.types.length > 0 ? options.types : ['#'];
    this.#patterns = host.options.groupBindings[options.group] ?? types;
    const pattern = isTopicPattern(options.topic);
    this.#matches = pattern ? topicMatcher(options.topic) : undefined;
    // A pattern reads group queues even where it matches replay topics (the `.dlq` streams).
    this.#stream = !pattern && host.options.replays(options.topic);
  }

  /** Declares the topology and starts consuming; rejects if that fails before `connectTimeoutMs`. */
  async start(): Promise<void> {
    this.#unlisten = this.#host.connection.listen({
      up: (live) => this.#resume(live),
      down: (generation) => this.#lost(generation),
    });
    const deadlineMs = Date.now() + this.#host.options.connectTimeoutMs;
    for (;;) {
      const live = await this.#host.connection.live();
      try {
        await this.#setup(live);
        return;
      } catch (error) {
        // A connection lost during setup is retried on the next one; anything else is final.
        const lost = this.#host.connection.current?.generation !== live.generation;
        if (!lost || error instanceof ConfigurationError || Date.now() > deadlineMs) {
          await this.close();
          throw error;
        }
      }
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#unlisten();
    clearTimeout(this.#retryTimer);
    this.#host.forget(this);
    const incarnation = this.#incarnation;
    this.#incarnation = undefined;
    if (incarnation === undefined) return;
    closeGate(incarnation);
    // Closing the channel returns every unacked message of this member to its queue.
    await incarnation.channel.close().catch(() => {});
  }

  #resume(live: Live): void {
    if (this.#closed || this.#incarnation?.generation === live.generation) return;
    clearTimeout(this.#retryTimer);
    this.#setup(live).catch(() => this.#retryLater(live));
  }

  #lost(generation: number): void {
    const incarnation = this.#incarnation;
    if (incarnation === undefined || incarnation.generation !== generation) return;
    this.#incarnation = undefined;
    closeGate(incarnation);
  }

  /** Re-runs setup after a failure on a still-live connection, with a growing delay. */
  #retryLater(live: Live): void {
    if (this.#closed) return;
    this.#setupFailures += 1;
    const { reconnectDelayMsMin: min, reconnectDelayMsMax: max } = this.#host.options;
    const delayMs = Math.min(max, min * 2 ** Math.min(this.#setupFailures, 20));
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      const current = this.#host.connection.current;
      if (current !== undefined && current.generation === live.generation) this.#resume(current);
    }, delayMs);
  }

  async #setup(live: Live): Promise<void> {
    const channel = await live.model.createChannel();
    channel.on('error', () => {}); // The 'close' that follows is handled.
    try {
      const { options, declared } = this.#host;
      const topic = this.#options.topic;
      const names = this.#stream
        ? undefined
        : await declareGroup(channel, options, declared, topic, this.#options.group, this.#patterns);
      if (this.#stream) await declareTopic(channel, options, declared, topic);
      await channel.prefetch(options.prefetch ?? this.#options.inFlightMax, false);
      if (this.#closed) throw new Error('subscription closed during setup');
      const incarnation = this.#incarnate(channel, live.generation, names);
      if (this.#incarnation !== undefined) closeGate(this.#incarnation);
      this.#incarnation = incarnation;
      channel.on('close', () => this.#channelClosed(incarnation));
      if (names === undefined) {
        // Resume at the oldest unacked offset; a new subscription starts at the stream's start.
        const oldest = this.#unacked.size > 0 ? Math.min(...this.#unacked) : this.#highestOffset + 1;
        this.#startOffset = oldest;
        await channel.consume(
          streamQueueName(options.exchangePrefix, topic),
          (message) => this.#receive(incarnation, 0, message),
          { noAck: false, arguments: { 'x-stream-offset': oldest === 0 ? 'first' : oldest } },
        );
      }
      for (const [shard, queue] of names?.shardQueues.entries() ?? []) {
        await channel.consume(queue, (message) => this.#receive(incarnation, shard, message), {
          noAck: false,
        });
      }
      this.#setupFailures = 0;
    } catch (error) {
      await channel.close().catch(() => {});
      throw error;
    }
  }

  #incarnate(channel: Channel, generation: number, names: GroupNames | undefined): Incarnation {
    const pattern = this.#matches !== undefined;
    const order = new KeyedFifo<GateEntry>({
      // What the broker may send unacked: `prefetch` per consumer, one consumer per shard queue.
      entriesMax:
        (this.#host.options.prefetch ?? this.#options.inFlightMax) * (names?.shardQueues.length ?? 1),
      counting: 'unsettled',
    });
    const delivery = new DeliveryWindow<GateEntry>({
      windows: () => [order],
      message: ({ data }, attempt, hold) =>
        new Delivered(
          data.topic,
          data.shard,
          String(data.streamOffset ?? data.message.fields.deliveryTag),
          data.fields.key,
          data.fields.headers,
          data.message.content,
          data.timestampMs,
          attempt,
          hold,
        ),
      onAck: ({ value: { data } }) => {
        if (data.streamOffset !== undefined) this.#unacked.delete(data.streamOffset);
        try {
          channel.ack(data.message);
        } catch {
          // The channel is gone: RabbitMQ redelivers the message, which at-least-once allows.
        }
        return undefined;
      },
      // A keyless message nacked with a long delay waits in a retry queue, not in this process.
      reroute: ({ value: { key, data, attempt } }, delayMs) => {
        // Streams refuse nacks and have no retry queues: the message is held instead.
        if (names === undefined) return undefined;
        if (key !== undefined || delayMs < this.#host.options.retryQueueDelayMsMin) return undefined;
        if (this.#incarnation !== incarnation) return undefined;
        return this.#host
          .retryLater(names, data.message, attempt, delayMs, pattern ? data.topic : undefined)
          .then(() => true);
      },
      nackDelayMsMax: this.#host.options.holdDelayMsMax,
    });
    delivery.join(this.#handler, this.#options.inFlightMax);
    const incarnation: Incarnation = {
      channel,
      generation,
      names,
      order,
      delivery,
      closed: false,
      drainScheduled: false,
    };
    return incarnation;
  }

  #receive(incarnation: Incarnation, shard: number, message: ConsumeMessage | null): void {
    if (message === null) {
      // RabbitMQ cancelled the consumer (its queue was deleted): rebuild on a fresh channel.
      incarnation.channel.close().catch(() => {});
      return;
    }
    let attempt = 1 + brokerRedeliveries(message);
    let streamOffset: number | undefined;
    if (incarnation.names === undefined) {
      streamOffset = Number(message.properties.headers?.['x-stream-offset']);
      if (!Number.isSafeInteger(streamOffset) || streamOffset < 0) streamOffset = undefined;
      else if (streamOffset < this.#startOffset) {
        // A stream may start delivering at the chunk holding the asked offset: skip what precedes it.
        this.#ackQuietly(incarnation.channel, message);
        return;
      } else {
        // A stream has no redelivery count: an offset seen before (before a reconnect) is a redelivery.
        if (streamOffset <= this.#highestOffset) attempt += 1;
        this.#highestOffset = Math.max(this.#highestOffset, streamOffset);
        this.#unacked.add(streamOffset);
      }
    }
    const fields = fromAmqpHeaders(message.properties.headers, message.properties.contentType);
    let topic = this.#options.topic;
    if (this.#matches !== undefined) {
      topic = fields.topic ?? topicOfExchange(message.fields.exchange, this.#host.options.exchangePrefix);
      // AMQP's `*` also matches an empty word, Herald's does not: not this subscription's message.
      if (!this.#matches(topic)) {
        this.#ackQuietly(incarnation.channel, message);
        return;
      }
    }
    const delivery: Delivery = {
      message,
      topic,
      shard,
      fields,
      timestampMs: fields.timestampMs ?? timestampMsOf(message),
      streamOffset,
    };
    // After close the channel's last deliveries are dropped: RabbitMQ redelivers them.
    if (incarnation.closed) return;
    incarnation.order.enqueue(
      { key: fields.key, data: delivery, attempt: attempt + fields.priorAttempts },
      fields.key,
    );
    // Deliveries arrive in bursts; one drain after the burst serves them all.
    if (!incarnation.drainScheduled) {
      incarnation.drainScheduled = true;
      setImmediate(() => {
        incarnation.drainScheduled = false;
        incarnation.delivery.pump();
      });
    }
  }

  #ackQuietly(channel: Channel, message: ConsumeMessage): void {
    try {
      channel.ack(message);
    } catch {
      // The channel is gone; nothing to settle.
    }
  }

  #channelClosed(incarnation: Incarnation): void {
    if (this.#incarnation !== incarnation) return;
    this.#incarnation = undefined;
    closeGate(incarnation);
    const current = this.#host.connection.current;
    // With the connection still up the broker closed just this channel: set up again.
    if (!this.#closed && current !== undefined && current.generation === incarnation.generation) {
      this.#retryLater(current);
    }
  }
}

/** The topic of exchange `exchange`: its name without the prefix. */
function topicOfExchange(exchange: string, prefix: string): string {
  return exchange.startsWith(prefix) ? exchange.slice(prefix.length) : exchange;
}

/** Deliveries RabbitMQ knows of before this one: quorum queues count them, classic ones flag them. */
function brokerRedeliveries(message: ConsumeMessage): number {
  const count = Number(message.properties.headers?.['x-delivery-count']);
  if (Number.isSafeInteger(count) && count > 0) return count;
  return message.fields.redelivered ? 1 : 0;
}

function timestampMsOf(message: ConsumeMessage): number {
  const seconds = Number(message.properties.timestamp);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : Date.now();
}

/** One unsettled message as the window holds it. */
interface GateEntry extends PendingEntry {
  readonly key: string | undefined;
  readonly data: Delivery;
}

/** Stops an incarnation's deliveries: later settlements do nothing, nack delays stop. */
function closeGate(incarnation: Incarnation): void {
  incarnation.closed = true;
  incarnation.delivery.close();
  incarnation.order.reset();
}
