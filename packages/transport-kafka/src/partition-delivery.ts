/**
 * Delivery for one Kafka subscription: the partitions it owns now (one {@link PartitionWindow}
 * each), handing their ready records to the handler round-robin across partitions while fewer
 * than `inFlightMax` are in flight, and settling them. An ack settles the record in its window
 * (the commit point may move) and asks the subscription to commit; a nack releases it, its key
 * still blocked, for its delay (at most `nackDelayMsMax`, one timer per parked record). Every
 * delivery gets a token, so a settlement of an earlier delivery, of a partition since revoked, or
 * after close does nothing. Group membership, fetching and commits stay with the subscription.
 */
import type { MessageHandler, ReceivedMessage } from '@herald/bus';
import type { KeyedEntry } from '@herald/bus/internal';
import { PartitionWindow, type WindowRecord } from './partition-window.ts';

/** What delivery needs from its subscription. */
export interface DeliveryHost {
  readonly topic: string;
  readonly handler: MessageHandler;
  /** Records delivered and not settled, across partitions, at most. */
  readonly inFlightMax: number;
  /** Longest nack delay; longer ones are shortened to it. */
  readonly nackDelayMsMax: number;
  /** Whether records may be handed out now (the member is active, not joining or draining). */
  isActive(): boolean;
  /** Whether the subscription is closed: settlements then do nothing. */
  isClosed(): boolean;
  /** A record was acked: commit its partition's new commit point soon. */
  commitLater(): void;
  /** A window has room again: the fetch loop may fetch for it. */
  wakeFetcher(): void;
}

/** The owned partitions of one subscription and the records in flight from them. */
export class PartitionDelivery {
  readonly #host: DeliveryHost;
  /** Partitions owned now, by number, and in round-robin order. */
  readonly #windows = new Map<number, PartitionWindow>();
  #order: PartitionWindow[] = [];
  #next = 0;
  #inFlight = 0;
  #tokens = 0;
  /** One per parked record (so bounded by the windows); all cleared when partitions are dropped. */
  readonly #nackTimers = new Set<NodeJS.Timeout>();
  /** Waiters for the in-flight count to reach zero (a drain). */
  #idleWaiters: (() => void)[] = [];

  constructor(host: DeliveryHost) {
    this.#host = host;
  }

  /** Records delivered and not yet settled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The owned partitions' windows, in round-robin order. */
  get windows(): readonly PartitionWindow[] {
    return this.#order;
  }

  /** The window of `partition`, if owned. */
  window(partition: number): PartitionWindow | undefined {
    return this.#windows.get(partition);
  }

  /** Takes ownership of `partitions`, each with an empty window of at most `recordsMax` records. */
  assign(partitions: readonly number[], recordsMax: number): void {
    for (const partition of partitions)
      this.#windows.set(partition, new PartitionWindow(partition, recordsMax));
    this.#order = [...this.#windows.values()];
  }

  /** Forgets every owned partition: settlements of their deliveries do nothing afterwards. */
  drop(): void {
    for (const window of this.#windows.values()) window.clear();
    this.#windows.clear();
    this.#order = [];
    this.#inFlight = 0;
    for (const timer of this.#nackTimers) clearTimeout(timer);
    this.#nackTimers.clear();
    this.#notifyIdle();
  }

  /** Hands ready records to the handler, round-robin over partitions, while there is room. */
  drain(): void {
    if (!this.#host.isActive()) return;
    const order = this.#order;
    let idle = 0;
    while (this.#inFlight < this.#host.inFlightMax && order.length > 0 && idle < order.length) {
      const window = order[this.#next++ % order.length]!;
      const entry = window.records.take();
      if (entry === undefined) {
        idle += 1;
        continue;
      }
      idle = 0;
      this.#deliver(window, entry);
    }
    if (this.#next > 1_000_000_000) this.#next = 0;
  }

  /** Resolves when nothing is in flight, or after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<void> {
    if (this.#inFlight === 0 || timeoutMs === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#idleWaiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }

  #deliver(window: PartitionWindow, handle: KeyedEntry<WindowRecord>): void {
    const host = this.#host;
    const entry = handle.value;
    const token = ++this.#tokens;
    entry.token = token;
    this.#inFlight += 1;
    const current = () => entry.token === token && window.owned && !host.isClosed();
    const message: ReceivedMessage = {
      topic: host.topic,
      partition: window.partition,
      offset: String(handle.offset),
      key: handle.key,
      headers: entry.headers,
      body: entry.body,
      timestampMs: entry.timestampMs,
      deliveryAttempt: entry.attempt,
      ack: async () => {
        if (!current()) return;
        entry.token = 0;
        this.#settled();
        window.records.ack(handle);
        host.commitLater();
        this.drain();
        if (window.records.hasRoom()) host.wakeFetcher();
      },
      nack: async (options) => {
        if (!current()) return;
        entry.token = 0;
        entry.attempt += 1;
        this.#settled();
        this.#park(window, handle, Math.min(Math.max(0, options?.delayMs ?? 0), host.nackDelayMsMax));
      },
    };
    // A handler that throws (synchronously or not) gets its message nacked: the subscriber's bug.
    void Promise.resolve()
      .then(() => host.handler(message))
      .catch(() => message.nack());
  }

  /** A nacked record: ready again at once, or parked (its key blocked) on a timer for `delayMs`. */
  #park(window: PartitionWindow, handle: KeyedEntry<WindowRecord>, delayMs: number): void {
    if (delayMs === 0) {
      window.records.release(handle, true);
      this.drain();
      return;
    }
    window.records.release(handle);
    const timer = setTimeout(() => {
      this.#nackTimers.delete(timer);
      if (!window.owned) return;
      window.records.retry(handle);
      this.drain();
    }, delayMs);
    this.#nackTimers.add(timer);
  }

  #settled(): void {
    this.#inFlight -= 1;
    if (this.#inFlight === 0) this.#notifyIdle();
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
