/**
 * The reader of one leased partition for one member: a JetStream pull consumer (batches of `fetch`,
 * pulled again after each one and after reconnects) feeding a {@link KeyedFifo}, which releases a
 * key's next message only once the previous one is acked. Redeliveries are matched by stream
 * sequence: a nacked message waits parked, its key blocked, until JetStream redelivers it after the
 * `nak` delay; a redelivery of a message still held (its `ackWaitMs` passed) only refreshes the
 * handle it is acked with. The window holds at most `ackPendingMax` unsettled messages, what
 * JetStream may deliver unacked to this consumer.
 *
 * Taking over a partition: JetStream redelivers messages left unacked by the previous reader (a
 * crashed member, a server restart) only once their `ackWaitMs` passes, but delivers newer ones at
 * once, which would put a key's later message before its earlier one. So a reader that finds
 * unacked messages on its consumer first collects what arrives until as many messages as were
 * unacked, all delivered before it started, are back, or the server reports them acked (it asks
 * every {@link RECOVERY_POLL_MS}), or `ackWaitMs` plus a margin passed; then it takes the
 * collection in stream order. (A member hands a partition over only after its handlers settled
 * and its last pull ended, so the count it leaves is exact.)
 */
import type { KeyedEntry } from '@herald/bus/internal';
import { KeyedFifo } from '@herald/bus/internal';
import type { Consumer, JetStreamClient, JsMsg } from '@nats-io/jetstream';
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
/** How long one pull waits for messages (the client's minimum); also how long a stopped reader may still receive. */
export const FETCH_EXPIRES_MS = 1_000;
/** Waited beyond a pull's expiry for its end (a connection that went away ends it later). */
const FETCH_MARGIN_MS = 1_000;
/** How many acked sequences a reader remembers, in units of `ackPendingMax` (what may be in the air). */
const RECENTLY_ACKED_FACTOR = 2;
/** How often a collecting reader asks the server how many messages are still unacked. */
const RECOVERY_POLL_MS = 250;

/** The previous reader's unacked messages being collected. */
interface Recovery {
  /** The consumer's last delivered stream sequence when this reader started. */
  readonly deliveredSequence: number;
  /** How many messages were unacked then. */
  readonly pendingCount: number;
  /** Collected messages at or below `deliveredSequence`: the previous reader's, back. */
  returned: number;
  /** What arrived meanwhile, by stream sequence (newer messages too). */
  readonly collected: Map<number, JsMsg>;
  /** Gives up waiting (ackWaitMs and a margin). */
  readonly deadline: NodeJS.Timeout;
  /** Polls the consumer's unacked count. */
  readonly poll: NodeJS.Timeout;
}

function nakQuietly(message: JsMsg, delayMs?: number): void {
  try {
    message.nak(delayMs);
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
  /** The last acked stream sequences (at most `ackPendingMax` × {@link RECENTLY_ACKED_FACTOR}), to drop late copies. */
  readonly #recentlyAcked = new Set<number>();
  readonly #recentRing: (number | undefined)[];
  #recentNext = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #wakeUp: () => void = () => {};
  readonly #pullEnded = Promise.withResolvers<void>();
  #stopped = false;
  /** Set while collecting the previous reader's unacked messages (see the file comment). */
  #recovery: Recovery | undefined;
  #recoveryChecked = false;

  constructor(host: ReaderHost, partition: number, consumer: string) {
    this.#host = host;
    this.partition = partition;
    this.#consumer = consumer;
    this.window = new KeyedFifo<PendingMessage>({ entriesMax: host.ackPendingMax, counting: 'unsettled' });
    this.#recentRing = new Array<number | undefined>(host.ackPendingMax * RECENTLY_ACKED_FACTOR);
  }

  /** Whether the reader stopped (its lease went); settlements of its messages then do nothing. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Starts pulling; restarts the pull loop after a failure until {@link stop}. */
  start(): void {
    void this.#pull();
  }

  /**
   * Pulls in one-shot batches (`fetch`) rather than a continuous `consume`: JetStream cannot cancel
   * a pull request, so messages it sends for a pull after the reader stopped would reach no
   * subscription and come back only after `ackWaitMs`. A fetch keeps its inbox until it expires
   * ({@link FETCH_EXPIRES_MS}), and what arrives after the stop is nacked, so the partition's next
   * reader gets it at once; {@link pullEnded} tells when that is over.
   */
  async #pull(): Promise<void> {
    try {
      while (!this.#stopped) {
        try {
          const consumer = await this.#host.js.consumers.get(this.#host.stream, this.#consumer);
          if (!this.#recoveryChecked) {
            const info = await consumer.info(true);
            this.#recoveryChecked = true;
            if (info.num_ack_pending > 0) {
              this.#startRecovery(consumer, info.delivered.stream_seq, info.num_ack_pending);
            }
          }
          while (!this.#stopped) {
            const batch = await consumer.fetch({
              max_messages: this.#host.ackPendingMax,
              expires: FETCH_EXPIRES_MS,
            });
            for await (const message of batch) this.#receive(message);
          }
        } catch {
          // The server is away or the consumer not ready yet: try again after the reconnect delay.
        }
        if (this.#stopped) return;
        await new Promise<void>((resolve) => {
          this.#wakeUp = resolve;
          this.#retryTimer = setTimeout(resolve, this.#host.reconnectDelayMs);
        });
      }
    } finally {
      this.#pullEnded.resolve();
    }
  }

  /**
   * Resolves once the reader's last pull is over (at most {@link FETCH_EXPIRES_MS} after the stop,
   * plus a margin for a connection that went away), so nothing more can arrive for it.
   */
  pullEnded(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, FETCH_EXPIRES_MS + FETCH_MARGIN_MS);
    });
    return Promise.race([this.#pullEnded.promise, bound]).finally(() => clearTimeout(timer));
  }

  #startRecovery(consumer: Consumer, deliveredSequence: number, pendingCount: number): void {
    let asking = false;
    const poll = setInterval(() => {
      if (asking) return;
      asking = true;
      consumer
        .info(true)
        .then((info) => {
          // Every message up to the last one delivered before this reader started has been acked.
          if (info.ack_floor.stream_seq >= deliveredSequence) this.#endRecovery();
        })
        .catch(() => {
          // The server is away: ask again at the next poll (the deadline still holds).
        })
        .finally(() => {
          asking = false;
        });
    }, RECOVERY_POLL_MS);
    const deadline = setTimeout(() => this.#endRecovery(), this.#host.ackWaitMs + RECOVERY_MARGIN_MS);
    this.#recovery = { deliveredSequence, pendingCount, returned: 0, collected: new Map(), deadline, poll };
  }

  #endRecovery(): void {
    const recovery = this.#recovery;
    if (recovery === undefined) return;
    clearTimeout(recovery.deadline);
    clearInterval(recovery.poll);
    this.#recovery = undefined;
    const inOrder = [...recovery.collected.values()].sort((first, second) => first.seq - second.seq);
    for (const message of inOrder) this.#receive(message);
  }

  #receive(message: JsMsg): void {
    if (this.#stopped) {
      // Sent for a pull made before the stop: back to the group once that pull is over (sooner it
      // would come straight back to this pull).
      nakQuietly(message, FETCH_EXPIRES_MS);
      return;
    }
    const recovery = this.#recovery;
    if (recovery !== undefined) {
      const old = message.seq <= recovery.deliveredSequence && !recovery.collected.has(message.seq);
      recovery.collected.set(message.seq, message);
      if (old) recovery.returned += 1;
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
    if (this.#recentlyAcked.has(message.seq)) {
      // A copy JetStream sent before it processed our ack (seen after a server restart): ack it again.
      message.ack();
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
    // A ring of the last acked sequences: the oldest leaves the set as a new one comes in.
    const evicted = this.#recentRing[this.#recentNext];
    if (evicted !== undefined) this.#recentlyAcked.delete(evicted);
    this.#recentRing[this.#recentNext] = entry.value.sequence;
    this.#recentNext = (this.#recentNext + 1) % this.#recentRing.length;
    this.#recentlyAcked.add(entry.value.sequence);
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

  /** Stops pulling: what still arrives is nacked; messages already here stay until {@link returnAll}. */
  stopPulling(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#wakeUp();
  }

  /**
   * Stops, and naks every unsettled message at once, so the partition's next reader gets them now
   * rather than after `ackWaitMs`; their later settlements do nothing.
   */
  returnAll(): void {
    this.stopPulling();
    if (this.#recovery !== undefined) {
      clearTimeout(this.#recovery.deadline);
      clearInterval(this.#recovery.poll);
      for (const message of this.#recovery.collected.values()) nakQuietly(message);
      this.#recovery = undefined;
    }
    for (const entry of this.#bySequence.values()) nakQuietly(entry.value.message);
    this.#bySequence.clear();
    this.window.reset();
  }
}
