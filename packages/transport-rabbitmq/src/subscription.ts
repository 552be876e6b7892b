/**
 * One subscription: a channel consuming every shard queue of its group, with per-key order kept
 * in the process by a {@link KeyGate}. RabbitMQ delivers each shard in queue order (up to
 * `prefetch` ahead); the gate hands a message to the handler only once every earlier message of
 * its key is acked, up to `maxInFlight` at a time, and holds nacked messages for their delay. A held or prefetched message stays unacked on the broker, so a crash or a lost connection
 * returns it to the queue.
 *
 * After a lost connection (or a channel the broker closed) the subscription declares its topology
 * again on a new channel and resumes; deliveries of the old channel become stale (their ack and
 * nack do nothing, RabbitMQ redelivers them).
 */

import {
  ConfigurationError,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
} from '@herald/bus';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { ConnectionManager, Live } from './connection.ts';
import { fromAmqpHeaders, type HeraldFields } from './headers.ts';
import { type GateEntry, KeyGate } from './key-gate.ts';
import type { GroupNames } from './names.ts';
import type { ResolvedOptions } from './options.ts';
import { type DeclaredTopology, declareGroup } from './topology.ts';

/** What a subscription needs from its transport. */
export interface SubscriptionHost {
  readonly options: ResolvedOptions;
  readonly connection: ConnectionManager;
  readonly declared: DeclaredTopology;
  /**
   * Sends a copy of `message` through the group's retry queue for `delayMs`, counting
   * `priorAttempts` deliveries; resolves once RabbitMQ confirmed the copy.
   */
  retryLater(
    names: GroupNames,
    message: ConsumeMessage,
    priorAttempts: number,
    delayMs: number,
  ): Promise<void>;
  /** The subscription closed. */
  forget(subscription: GroupSubscription): void;
}

interface Delivery {
  readonly message: ConsumeMessage;
  readonly shard: number;
  readonly fields: HeraldFields;
  readonly timestampMs: number;
}

/** The state of one channel incarnation; replaced wholesale after a reconnect. */
interface Incarnation {
  readonly channel: Channel;
  readonly generation: number;
  readonly names: GroupNames;
  readonly gate: KeyGate<Delivery>;
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

  constructor(host: SubscriptionHost, options: SubscribeOptions, handler: MessageHandler) {
    this.#host = host;
    this.#options = options;
    this.#handler = handler;
    const types = options.types !== undefined && options.types.length > 0 ? options.types : ['#'];
    this.#patterns = host.options.groupBindings[options.group] ?? types;
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
    incarnation.gate.close();
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
    incarnation.gate.close();
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
      const names = await declareGroup(
        channel,
        options,
        declared,
        this.#options.topic,
        this.#options.group,
        this.#patterns,
      );
      await channel.prefetch(options.prefetch ?? this.#options.maxInFlight, false);
      if (this.#closed) throw new Error('subscription closed during setup');
      const incarnation = this.#incarnate(channel, live.generation, names);
      this.#incarnation?.gate.close();
      this.#incarnation = incarnation;
      channel.on('close', () => this.#channelClosed(incarnation));
      for (const [shard, queue] of names.shardQueues.entries()) {
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

  #incarnate(channel: Channel, generation: number, names: GroupNames): Incarnation {
    const topic = this.#options.topic;
    const gate: KeyGate<Delivery> = new KeyGate<Delivery>(
      {
        describe: ({ data }: GateEntry<Delivery>) => ({
          topic,
          partition: data.shard,
          offset: String(data.message.fields.deliveryTag),
          key: data.fields.key,
          headers: data.fields.headers,
          body: data.message.content,
          timestampMs: data.timestampMs,
        }),
        onAck: ({ data }: GateEntry<Delivery>) => {
          try {
            channel.ack(data.message);
          } catch {
            // The channel is gone: RabbitMQ redelivers the message, which at-least-once allows.
          }
        },
        // A keyless message nacked with a long delay waits in a retry queue, not in this process.
        reroute: ({ key, data, attempt }: GateEntry<Delivery>, delayMs: number) => {
          if (key !== undefined || delayMs < this.#host.options.retryQueueDelayMsMin) return undefined;
          if (this.#incarnation !== incarnation) return undefined;
          return this.#host.retryLater(names, data.message, attempt, delayMs).then(() => true);
        },
      },
      this.#handler,
      { maxInFlight: this.#options.maxInFlight, delayMsMax: this.#host.options.holdDelayMsMax },
    );
    const incarnation: Incarnation = { channel, generation, names, gate, drainScheduled: false };
    return incarnation;
  }

  #receive(incarnation: Incarnation, shard: number, message: ConsumeMessage | null): void {
    if (message === null) {
      // RabbitMQ cancelled the consumer (its queue was deleted): rebuild on a fresh channel.
      incarnation.channel.close().catch(() => {});
      return;
    }
    const fields = fromAmqpHeaders(message.properties.headers, message.properties.contentType);
    const delivery: Delivery = {
      message,
      shard,
      fields,
      timestampMs: fields.timestampMs ?? timestampMsOf(message),
    };
    incarnation.gate.push(fields.key, delivery, 1 + fields.priorAttempts + brokerRedeliveries(message));
    // Deliveries arrive in bursts; one drain after the burst serves them all.
    if (!incarnation.drainScheduled) {
      incarnation.drainScheduled = true;
      setImmediate(() => {
        incarnation.drainScheduled = false;
        incarnation.gate.drain();
      });
    }
  }

  #channelClosed(incarnation: Incarnation): void {
    if (this.#incarnation !== incarnation) return;
    this.#incarnation = undefined;
    incarnation.gate.close();
    const current = this.#host.connection.current;
    // With the connection still up the broker closed just this channel: set up again.
    if (!this.#closed && current !== undefined && current.generation === incarnation.generation) {
      this.#retryLater(current);
    }
  }
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
