/**
 * One subscription: a long-poll loop on the group's FIFO queue, with per-key order kept in the
 * process by the bus's `KeyedFifo` and `DeliveryWindow` (as on the memory and RabbitMQ transports).
 *
 * SQS FIFO hands out no message of a message group (= key) while an earlier one is in flight, so
 * members of one group never hold the same key at once; one receive may still return several
 * messages of a key, which the window then delivers one after the other. Received messages stay
 * invisible while in the process: every third of the visibility timeout their visibility is
 * extended, so only a crash (or a lost process) returns them to the group, after at most
 * `visibilityTimeoutMs`. An ack deletes the message; a nack of a keyed message, or a short nack,
 * holds it in the process for the delay (its key blocked, its visibility extended); a keyless
 * message nacked for 1 s or more is returned to SQS with that visibility timeout instead. Closing
 * makes every unsettled message visible again at once, for the group's other members; it waits
 * for the receive in progress (at most `waitTimeMs`) so that no message is left hidden by it.
 *
 * Bounds: at most `inFlightMax` + 10 received and unsettled messages (the window); one receive
 * call at a time, asking only for the room left. An idle member long-polls (`waitTimeMs`); one that
 * holds messages polls without waiting after each confirmed delete, else every
 * {@link BUSY_POLL_DELAY_MS_MAX}.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { MessageHandler, SubscribeOptions, Subscription } from '@herald/bus';
import { Delivered, DeliveryWindow, KeyedFifo, type PendingEntry } from '@herald/bus/internal';
import { fromSqsMessage, type ReceivedFields } from './attributes.ts';
import { Batcher } from './batcher.ts';
import { AWS_BATCH_MAX, type ResolvedOptions, VISIBILITY_TIMEOUT_MS_MAX } from './options.ts';

/** Nacks of keyless messages at least this long go back to SQS instead of waiting in the process. */
export const REROUTE_DELAY_MS_MIN = 1_000;
/**
 * Longest wait before polling again while the subscription holds messages and the last receive
 * found nothing; a settlement (a delete that SQS confirmed) polls at once.
 */
export const BUSY_POLL_DELAY_MS_MAX = 250;
/** First wait after a failed receive; doubles up to `receiveRetryDelayMsMax`. */
const RECEIVE_RETRY_DELAY_MS_MIN = 100;

/** What a subscription needs from its transport. */
export interface SubscriptionHost {
  readonly options: ResolvedOptions;
  readonly sqs: SQSClient;
  /** Creates the group's queue (once per transport); resolves with its URL. */
  queueFor(topic: string, group: string): Promise<string>;
  /** Counts a failed SQS call the subscription recovered from. */
  countFailure(what: 'receive' | 'delete' | 'visibility', error: unknown): void;
  /** The subscription closed. */
  forget(subscription: QueueSubscription): void;
}

interface Delivery {
  readonly receiptHandle: string;
  readonly fields: ReceivedFields;
  readonly timestampMs: number;
  readonly offset: string;
  /** Set when a nack returned it to SQS: the window's ack after that must not delete it. */
  rerouted: boolean;
}

interface GateEntry extends PendingEntry {
  readonly key: string | undefined;
  readonly data: Delivery;
}

interface VisibilityChange {
  readonly receiptHandle: string;
  readonly seconds: number;
}

function toDelivery(message: Message): Delivery {
  const attributes = message.Attributes ?? {};
  return {
    receiptHandle: message.ReceiptHandle ?? '',
    fields: fromSqsMessage(message.Body, message.MessageAttributes),
    timestampMs: Number(attributes.SentTimestamp) || Date.now(),
    offset: attributes.SequenceNumber ?? message.MessageId ?? '',
    rerouted: false,
  };
}

/** A live subscription of one group member. */
export class QueueSubscription implements Subscription {
  readonly #host: SubscriptionHost;
  readonly #options: SubscribeOptions;
  readonly #handler: MessageHandler;
  /** Received and not settled: their visibility is extended, and returned on close. */
  readonly #held = new Set<Delivery>();
  readonly #deletes: Batcher<string>;
  readonly #visibility: Batcher<VisibilityChange>;
  #queueUrl = '';
  #order: KeyedFifo<GateEntry> | undefined;
  #delivery: DeliveryWindow<GateEntry> | undefined;
  #loop: Promise<void> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  /** A settlement came while the loop was not pausing. */
  #woken = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(host: SubscriptionHost, options: SubscribeOptions, handler: MessageHandler) {
    this.#host = host;
    this.#options = options;
    this.#handler = handler;
    this.#deletes = new Batcher(async (items) => {
      const { Failed } = await host.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.#queueUrl,
          Entries: items.map(({ id, item }) => ({ Id: id, ReceiptHandle: item })),
        }),
      );
      return new Map((Failed ?? []).map((failure) => [failure.Id ?? '', failure.Message ?? 'failed']));
    });
    this.#visibility = new Batcher(async (items) => {
      const { Failed } = await host.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.#queueUrl,
          Entries: items.map(({ id, item }) => ({
            Id: id,
            ReceiptHandle: item.receiptHandle,
            VisibilityTimeout: item.seconds,
          })),
        }),
      );
      return new Map((Failed ?? []).map((failure) => [failure.Id ?? '', failure.Message ?? 'failed']));
    });
  }

  /** Creates the group's queue and subscription, then starts receiving. */
  async start(): Promise<void> {
    this.#queueUrl = await this.#host.queueFor(this.#options.topic, this.#options.group);
    if (this.#closed) return;
    const order = new KeyedFifo<GateEntry>({
      entriesMax: this.#options.inFlightMax + AWS_BATCH_MAX,
      counting: 'unsettled',
    });
    const topic = this.#options.topic;
    const delivery = new DeliveryWindow<GateEntry>({
      windows: () => [order],
      message: ({ data }, attempt, hold) =>
        new Delivered(
          topic,
          0,
          data.offset,
          data.fields.key,
          data.fields.headers,
          data.fields.body,
          data.timestampMs,
          attempt,
          hold,
        ),
      onAck: ({ value: { data } }) => {
        this.#held.delete(data);
        this.#wakeLoop();
        if (data.rerouted) return undefined;
        // A failed delete leaves the message to come back after its visibility timeout, which
        // at-least-once allows: the ack still resolves.
        // Once SQS deleted it, the next message of its group may be handed out: poll again now.
        return this.#deletes.add(data.receiptHandle).then(
          () => this.#wakeLoop(),
          (error: unknown) => this.#host.countFailure('delete', error),
        );
      },
      reroute: ({ value: { key, data } }, delayMs) => {
        if (key !== undefined || delayMs < REROUTE_DELAY_MS_MIN) return undefined;
        const seconds = Math.min(Math.ceil(delayMs / 1000), VISIBILITY_TIMEOUT_MS_MAX / 1000);
        return this.#visibility.add({ receiptHandle: data.receiptHandle, seconds }).then(
          () => {
            data.rerouted = true;
            return true;
          },
          (error: unknown) => {
            this.#host.countFailure('visibility', error);
            return false;
          },
        );
      },
      nackDelayMsMax: this.#host.options.holdDelayMsMax,
    });
    delivery.join(this.#handler, this.#options.inFlightMax);
    this.#order = order;
    this.#delivery = delivery;
    const everyMs = this.#host.options.visibilityTimeoutMs / 3;
    this.#heartbeat = setInterval(() => this.#extend(), everyMs);
    this.#loop = this.#receiveLoop(order, delivery);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    // The receive in progress is not aborted: SQS would still hand it messages, hidden from the
    // group for a whole visibility timeout. It answers within waitTimeMs and its messages go back.
    clearInterval(this.#heartbeat);
    this.#wakeLoop();
    this.#host.forget(this);
    await this.#loop;
    this.#delivery?.close();
    this.#order?.reset();
    // Unsettled messages go back to the group now rather than after their visibility timeout.
    const returned = [...this.#held].filter((data) => !data.rerouted);
    this.#held.clear();
    await Promise.allSettled(
      returned.map((data) => this.#visibility.add({ receiptHandle: data.receiptHandle, seconds: 0 })),
    );
    await this.#deletes.idle();
    await this.#visibility.idle();
  }

  #wakeLoop(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    // Not pausing (a receive in progress): the next pause returns at once instead.
    if (wake === undefined) this.#woken = true;
    wake?.();
  }

  /** Resolves on the next settlement or close (or at once if one came since the last), or after `timeoutMs`. */
  #pause(timeoutMs: number): Promise<void> {
    if (this.#woken || this.#closed) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, timeoutMs);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #receiveLoop(order: KeyedFifo<GateEntry>, delivery: DeliveryWindow<GateEntry>): Promise<void> {
    const { options, sqs } = this.#host;
    let failures = 0;
    while (!this.#closed) {
      const room = Math.min(AWS_BATCH_MAX, this.#options.inFlightMax + AWS_BATCH_MAX - order.unsettledCount);
      if (room <= 0) {
        // The window is full: wait for a settlement (bounded so a lost wake-up cannot stall it).
        await this.#pause(1_000);
        continue;
      }
      // While this member holds messages it polls without waiting: a long poll would not return
      // when one of its own deletes unblocks a message group (moto re-checks blocked groups only
      // when its poll starts), so it polls after each delete instead, and idle members long-poll.
      const busy = this.#held.size > 0;
      let messages: Message[];
      try {
        const result = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.#queueUrl,
            MaxNumberOfMessages: room,
            WaitTimeSeconds: busy ? 0 : options.waitTimeMs / 1000,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'SequenceNumber'],
          }),
        );
        messages = result.Messages ?? [];
        failures = 0;
        if (this.#closed) {
          // Closed meanwhile: `close` returns these to the group with the rest.
          for (const message of messages) if (message.ReceiptHandle) this.#held.add(toDelivery(message));
          return;
        }
      } catch (error) {
        if (this.#closed) return;
        this.#host.countFailure('receive', error);
        failures += 1;
        await this.#pause(
          Math.min(options.receiveRetryDelayMsMax, RECEIVE_RETRY_DELAY_MS_MIN * 2 ** Math.min(failures, 20)),
        );
        continue;
      }
      for (const message of messages) this.#take(order, message);
      delivery.pump();
      if (busy && messages.length === 0) await this.#pause(BUSY_POLL_DELAY_MS_MAX);
    }
  }

  #take(order: KeyedFifo<GateEntry>, message: Message): void {
    if (message.ReceiptHandle === undefined) return;
    const data = toDelivery(message);
    const received = Number(message.Attributes?.ApproximateReceiveCount);
    this.#held.add(data);
    order.enqueue(
      { key: data.fields.key, data, attempt: Number.isSafeInteger(received) && received > 0 ? received : 1 },
      data.fields.key,
    );
  }

  /** Keeps every message in the process invisible for another visibility timeout. */
  #extend(): void {
    const seconds = this.#host.options.visibilityTimeoutMs / 1000;
    for (const data of this.#held) {
      if (data.rerouted) continue;
      this.#visibility.add({ receiptHandle: data.receiptHandle, seconds }).catch((error: unknown) => {
        this.#host.countFailure('visibility', error);
      });
    }
  }
}
