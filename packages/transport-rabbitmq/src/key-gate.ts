/**
 * Per-key order for deliveries that arrive in queue order: a message goes to the handler only when
 * no earlier message of its key is in flight or waiting out a nack delay; messages of other keys
 * (and keyless ones) flow past it, up to `inFlightMax` at a time.
 *
 * The order itself is the bus's `KeyedFifo` (O(1) per step), counting unsettled messages only: a
 * queue broker forgets a message once it is acked. This file adds what is RabbitMQ's own: handing
 * messages to the handler with delivery tokens, holding nacked ones for their delay, and offering
 * nacks to a retry queue first.
 *
 * Bounds: entries are at most what the broker sent unacked (shards × prefetch, `entriesMax`; one
 * more is a bug and throws); one timer per message waiting out a nack delay.
 */
import type { MessageHandler, ReceivedMessage } from '@herald/bus';
import { type KeyedEntry, KeyedFifo } from '@herald/bus/internal';

/** One delivery as the gate tracks it; `T` is the transport's own data. */
export interface GateEntry<T> {
  readonly key: string | undefined;
  readonly data: T;
  /** 1 on first delivery; each nack counts one more. */
  attempt: number;
  /** Non-zero while a handler holds it; changes on every delivery so stale settlements are ignored. */
  token: number;
}

/** What the gate needs from the transport. */
export interface GateSource<T> {
  /** The fields of the message handed to the handler. */
  describe(entry: GateEntry<T>): Omit<ReceivedMessage, 'deliveryAttempt' | 'ack' | 'nack'>;
  /** The handler acked `entry`: settle it with the broker. */
  onAck(entry: GateEntry<T>): void;
  /**
   * Offered every nack first: return undefined to let the gate hold the message for its delay, or
   * a promise of whether the message was sent elsewhere (a retry queue); when it resolves true the
   * gate settles it like an ack, when false (or rejected) it holds it after all.
   */
  reroute?(entry: GateEntry<T>, delayMs: number): Promise<boolean> | undefined;
}

/** Bounds of a gate. */
export interface GateLimits {
  /** Most messages held unsettled: what the broker may send unacked (shards × prefetch). */
  readonly entriesMax: number;
  /** Most entries handed to the handler and not yet settled. */
  readonly inFlightMax: number;
  /** Longest nack delay held; longer ones are shortened to it. */
  readonly delayMsMax: number;
}

/** Per-key gate of one subscription's deliveries. */
export class KeyGate<T> {
  readonly #source: GateSource<T>;
  readonly #handler: MessageHandler;
  readonly #inFlightMax: number;
  readonly #delayMsMax: number;
  /** Per-key order of the unsettled entries. */
  readonly #order: KeyedFifo<GateEntry<T>>;
  readonly #timers = new Set<NodeJS.Timeout>();
  #inFlight = 0;
  #tokens = 0;
  #closed = false;

  constructor(source: GateSource<T>, handler: MessageHandler, limits: GateLimits) {
    this.#source = source;
    this.#handler = handler;
    this.#inFlightMax = limits.inFlightMax;
    this.#delayMsMax = limits.delayMsMax;
    this.#order = new KeyedFifo({ entriesMax: limits.entriesMax, counting: 'unsettled' });
  }

  /** Adds a newly received message behind every earlier one of its key. */
  push(key: string | undefined, data: T, attempt: number): void {
    if (this.#closed) return;
    this.#order.enqueue({ key, data, attempt, token: 0 }, key);
  }

  /** Hands ready entries to the handler while it has room. */
  drain(): void {
    while (!this.#closed && this.#inFlight < this.#inFlightMax) {
      const entry = this.#order.take();
      if (entry === undefined) return;
      this.#deliver(entry);
    }
  }

  /** Stops delivering; later settlements do nothing and delay timers stop. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#order.reset();
  }

  #deliver(handle: KeyedEntry<GateEntry<T>>): void {
    const entry = handle.value;
    const token = ++this.#tokens;
    entry.token = token;
    this.#inFlight += 1;
    const current = () => !this.#closed && entry.token === token;
    const message: ReceivedMessage = {
      ...this.#source.describe(entry),
      deliveryAttempt: entry.attempt,
      ack: async () => {
        if (!current()) return;
        this.#settle(entry);
        this.#source.onAck(entry);
        this.#order.ack(handle);
        this.drain();
      },
      nack: async (options) => {
        if (!current()) return;
        this.#settle(entry);
        const delayMs = Math.max(0, options?.delayMs ?? 0);
        const rerouted = this.#source.reroute?.(entry, delayMs);
        if (rerouted !== undefined && (await rerouted.catch(() => false))) {
          if (this.#closed) return;
          this.#source.onAck(entry);
          this.#order.ack(handle);
          this.drain();
          return;
        }
        if (this.#closed) return;
        entry.attempt += 1;
        this.#hold(handle, Math.min(delayMs, this.#delayMsMax));
      },
    };
    // A handler that throws (synchronously or not) gets its message nacked: the subscriber's bug.
    void Promise.resolve()
      .then(() => this.#handler(message))
      .catch(() => message.nack());
  }

  #settle(entry: GateEntry<T>): void {
    entry.token = 0;
    this.#inFlight -= 1;
  }

  /** The key stays blocked while the entry waits, so nothing later of it overtakes the message. */
  #hold(handle: KeyedEntry<GateEntry<T>>, delayMs: number): void {
    this.#order.release(handle);
    if (delayMs === 0) {
      this.#retry(handle);
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#retry(handle);
    }, delayMs);
    this.#timers.add(timer);
  }

  #retry(handle: KeyedEntry<GateEntry<T>>): void {
    if (this.#closed) return;
    this.#order.retry(handle);
    this.drain();
  }
}
