/**
 * Per-key order for deliveries that arrive in queue order: a message goes to the handler only when
 * no earlier message of its key is in flight or waiting out a nack delay; messages of other keys
 * (and keyless ones) flow past it, up to `inFlightMax` at a time.
 *
 * Why not the bus's shared `DeliveryWindow`: that one rescans every pending entry on each ack, which
 * suits log transports whose windows are their storage, but with RabbitMQ's prefetched messages it
 * cost most of the consume throughput (see `bench/rabbitmq.ts`). Here every step is O(1): a FIFO of
 * ready entries, and per busy key a FIFO of entries waiting behind it.
 *
 * Bounds: entries are at most what the broker sent unacked (shards × prefetch); one timer per
 * message waiting out a nack delay.
 */
import type { MessageHandler, ReceivedMessage } from '@herald/bus';

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
  /** Entries free to go, in arrival order; `#readyHead` skips delivered ones without shifting. */
  #ready: GateEntry<T>[] = [];
  #readyHead = 0;
  /** Per key with an entry in flight (or delayed): the entries waiting behind it, in order. */
  readonly #waiting = new Map<string, GateEntry<T>[]>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #inFlight = 0;
  #tokens = 0;
  #closed = false;

  constructor(source: GateSource<T>, handler: MessageHandler, limits: GateLimits) {
    this.#source = source;
    this.#handler = handler;
    this.#inFlightMax = limits.inFlightMax;
    this.#delayMsMax = limits.delayMsMax;
  }

  /** Adds a newly received message behind every earlier one of its key. */
  push(key: string | undefined, data: T, attempt: number): void {
    if (this.#closed) return;
    const entry: GateEntry<T> = { key, data, attempt, token: 0 };
    if (key !== undefined) {
      const behind = this.#waiting.get(key);
      if (behind !== undefined) {
        behind.push(entry);
        return;
      }
      this.#waiting.set(key, []);
    }
    this.#ready.push(entry);
  }

  /** Hands ready entries to the handler while it has room. */
  drain(): void {
    while (!this.#closed && this.#inFlight < this.#inFlightMax && this.#readyHead < this.#ready.length) {
      const entry = this.#ready[this.#readyHead++]!;
      if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
        this.#ready = this.#ready.slice(this.#readyHead);
        this.#readyHead = 0;
      }
      this.#deliver(entry);
    }
  }

  /** Stops delivering; later settlements do nothing and delay timers stop. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#ready = [];
    this.#readyHead = 0;
    this.#waiting.clear();
  }

  #deliver(entry: GateEntry<T>): void {
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
        this.#release(entry.key);
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
          this.#release(entry.key);
          this.drain();
          return;
        }
        if (this.#closed) return;
        entry.attempt += 1;
        this.#hold(entry, Math.min(delayMs, this.#delayMsMax));
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

  /** The key stays busy while `entry` waits, so nothing later of it overtakes the message. */
  #hold(entry: GateEntry<T>, delayMs: number): void {
    if (delayMs === 0) {
      this.#retry(entry);
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#retry(entry);
    }, delayMs);
    this.#timers.add(timer);
  }

  #retry(entry: GateEntry<T>): void {
    if (this.#closed) return;
    this.#ready.push(entry);
    this.drain();
  }

  /** The key's message was acked: the next one of the key becomes ready, or the key is free. */
  #release(key: string | undefined): void {
    if (key === undefined) return;
    const behind = this.#waiting.get(key);
    const next = behind?.shift();
    if (next === undefined) this.#waiting.delete(key);
    else this.#ready.push(next);
  }
}
