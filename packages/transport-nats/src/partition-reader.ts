/**
 * The reader of one leased partition for one member: a JetStream pull consumer (`consume`, which
 * re-pulls after reconnects and missed heartbeats) feeding a {@link KeyedFifo}, which releases a
 * key's next message only once the previous one is acked. Redeliveries are matched by stream
 * sequence: a nacked message waits parked, its key blocked, until JetStream redelivers it after the
 * `nak` delay; a redelivery of a message still held (its `ackWaitMs` passed) only refreshes the
 * handle it is acked with. The window holds at most `ackPendingMax` unsettled messages, what
 * JetStream may deliver unacked to this consumer.
 *
 * Taking over a partition: JetStream redelivers messages left unacked by the previous reader (a
 * crashed member, a server restart) only once their `ackWaitMs` passes, but delivers newer ones at
 * once, which would put a key's later message before its earlier one. So a reader that finds
 * unacked messages on its consumer first collects what arrives until every one of them is back (or
 * `ackWaitMs` plus a margin passed), then takes the collection in stream order.
 */
import type { KeyedEntry } from '@herald/bus/internal';
import { KeyedFifo } from '@herald/bus/internal';
import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { fromNatsHeaders } from './headers.ts';

/** One unsettled message of a partition. */
export interface PendingMessage {
  /** The latest delivery's handle: acks and naks go through it. */
  message: JsMsg;
  readonly sequence: number;
  readonly key: string | undefined;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
  readonly timestampMs: number;
  /** 1 on first delivery; JetStream's count for deliveries before this member, plus one per nack. */
  attempt: number;
  /** Nacked: waiting for JetStream's redelivery, its key blocked. */
  awaitingRedelivery: boolean;
}

/** Waited beyond `ackWaitMs` for the previous reader's messages (JetStream checks ack waits on a timer). */
const RECOVERY_MARGIN_MS = 2_000;

/** The previous reader's unacked messages being collected. */
interface Recovery {
  /** The consumer's last delivered stream sequence when this reader started. */
  readonly deliveredSequence: number;
  /** How many of those were unacked. */
  readonly pendingCount: number;
  /** What arrived meanwhile, by stream sequence (newer messages too). */
  readonly collected: Map<number, JsMsg>;
  /** Collected messages at or below `deliveredSequence`. */
  returned: number;
  readonly timer: NodeJS.Timeout;
}

function nakQuietly(message: JsMsg): void {
  try {
    message.nak();
  } catch {
    // Disconnected: JetStream redelivers after ackWaitMs.
  }
}

/** Where the reader sends what it learns. */
export interface ReaderHost {
  readonly js: JetStreamClient;
  readonly stream: string;
  readonly ackPendingMax: number;
  readonly ackWaitMs: number;
  readonly reconnectDelayMs: number;
  /** A message became ready. */
  ready(): void;
}

/** Reads one partition's durable consumer while the member holds its lease. */
export class PartitionReader {
  readonly partition: number;
  readonly window: KeyedFifo<PendingMessage>;
  readonly #host: ReaderHost;
  readonly #consumer: string;
  readonly #bySequence = new Map<number, KeyedEntry<PendingMessage>>();
  #arrivals = 0n;
  #messages: ConsumerMessages | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Set while collecting the previous reader's unacked messages (see the file comment). */
  #recovery: Recovery | undefined;
  #recoveryChecked = false;

  constructor(host: ReaderHost, partition: number, consumer: string) {
    this.#host = host;
    this.partition = partition;
    this.#consumer = consumer;
    this.window = new KeyedFifo<PendingMessage>({ entriesMax: host.ackPendingMax, counting: 'unsettled' });
  }

  /** Whether the reader stopped (its lease went); settlements of its messages then do nothing. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Starts pulling; restarts the pull loop after a failure until {@link stop}. */
  start(): void {
    void this.#pull();
  }

  async #pull(): Promise<void> {
    while (!this.#stopped) {
      try {
        const consumer = await this.#host.js.consumers.get(this.#host.stream, this.#consumer);
        if (!this.#recoveryChecked) {
          const info = await consumer.info(true);
          this.#recoveryChecked = true;
          if (info.num_ack_pending > 0) this.#startRecovery(info.delivered.stream_seq, info.num_ack_pending);
        }
        if (this.#stopped) return;
        const messages = await consumer.consume({
          max_messages: this.#host.ackPendingMax,
          expires: 10_000,
          callback: (message) => this.#receive(message),
        });
        this.#messages = messages;
        if (this.#stopped) messages.stop();
        await messages.closed();
      } catch {
        // The server is away or the consumer not ready yet: try again after the reconnect delay.
      }
      if (this.#stopped) return;
      await new Promise<void>((resolve) => {
        this.#retryTimer = setTimeout(resolve, this.#host.reconnectDelayMs);
      });
    }
  }

  #startRecovery(deliveredSequence: number, pendingCount: number): void {
    const timer = setTimeout(() => this.#endRecovery(), this.#host.ackWaitMs + RECOVERY_MARGIN_MS);
    this.#recovery = { deliveredSequence, pendingCount, collected: new Map(), returned: 0, timer };
  }

  #endRecovery(): void {
    const recovery = this.#recovery;
    if (recovery === undefined) return;
    clearTimeout(recovery.timer);
    this.#recovery = undefined;
    const inOrder = [...recovery.collected.values()].sort((first, second) => first.seq - second.seq);
    for (const message of inOrder) this.#receive(message);
  }

  #receive(message: JsMsg): void {
    if (this.#stopped) return;
    const recovery = this.#recovery;
    if (recovery !== undefined) {
      if (!recovery.collected.has(message.seq) && message.seq <= recovery.deliveredSequence)
        recovery.returned += 1;
      recovery.collected.set(message.seq, message);
      if (recovery.returned >= recovery.pendingCount) this.#endRecovery();
      return;
    }
    const known = this.#bySequence.get(message.seq);
    if (known !== undefined) {
      known.value.message = message;
      if (known.value.awaitingRedelivery && known.state === 'parked') {
        known.value.awaitingRedelivery = false;
        this.window.retry(known);
        this.#host.ready();
      }
      return;
    }
    if (!this.window.hasRoom()) {
      // Only if ackPendingMax differs between members: let JetStream offer it again shortly.
      message.nak(1_000);
      return;
    }
    const { headers, key } = fromNatsHeaders(message.headers);
    const pending: PendingMessage = {
      message,
      sequence: message.seq,
      key,
      headers,
      body: message.data,
      timestampMs: Math.floor(message.info.timestampNanos / 1e6),
      attempt: message.info.deliveryCount,
      awaitingRedelivery: false,
    };
    this.#arrivals += 1n;
    this.#bySequence.set(message.seq, this.window.enqueue(pending, key, this.#arrivals));
    this.#host.ready();
  }

  /** Settles `entry` as processed; false if the reader stopped or it was settled already. */
  ack(entry: KeyedEntry<PendingMessage>): JsMsg | undefined {
    if (this.#stopped || !this.window.ack(entry)) return undefined;
    this.#bySequence.delete(entry.value.sequence);
    return entry.value.message;
  }

  /** Returns `entry` to JetStream for redelivery after `delayMs`, its key blocked until then. */
  nack(entry: KeyedEntry<PendingMessage>, delayMs: number): void {
    if (this.#stopped || !this.window.release(entry)) return;
    entry.value.attempt += 1;
    entry.value.awaitingRedelivery = true;
    try {
      entry.value.message.nak(delayMs);
    } catch {
      // Disconnected: JetStream redelivers it after ackWaitMs, which the reader recognises.
    }
  }

  /** Stops pulling (messages already here stay until {@link returnAll}). */
  stopPulling(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#messages?.stop();
  }

  /**
   * Stops, and naks every unsettled message at once, so the partition's next reader gets them now
   * rather than after `ackWaitMs`; their later settlements do nothing.
   */
  returnAll(): void {
    this.stopPulling();
    if (this.#recovery !== undefined) {
      clearTimeout(this.#recovery.timer);
      for (const message of this.#recovery.collected.values()) nakQuietly(message);
      this.#recovery = undefined;
    }
    for (const entry of this.#bySequence.values()) nakQuietly(entry.value.message);
    this.#bySequence.clear();
    this.window.reset();
  }
}
