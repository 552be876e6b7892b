/**
 * The publish path: messages of concurrent `publish` calls share produce requests. One request is
 * in flight at a time, so publishes are sent in call order (per partition, Kafka keeps that order)
 * and under load a batch grows while the previous one is acknowledged; an idle batcher waits at
 * most `lingerMs` for company. Each caller's promise settles with the request carrying its
 * messages: acks=all, so it resolves once the broker has the messages durably.
 */
import type { OutgoingRecord } from './records.ts';

interface Pending {
  readonly records: readonly OutgoingRecord[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Sends one produce request with `records`; resolves on the broker's acknowledgement. */
export type SendBatch = (records: OutgoingRecord[]) => Promise<void>;

/** Coalesces publishes into produce requests. */
export class Batcher {
  readonly #send: SendBatch;
  readonly #lingerMs: number;
  readonly #batchBytesMax: number;
  #queue: Pending[] = [];
  #queuedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;

  readonly #failsQueued: (error: unknown) => boolean;

  /**
   * `failsQueued(error)` says whether a failed request also fails what queued behind it: a request
   * that used up its retries on an unreachable broker would otherwise make each publish behind it
   * wait a whole retry budget again (two budgets for the second, three for the third).
   */
  constructor(
    send: SendBatch,
    lingerMs: number,
    batchBytesMax: number,
    failsQueued: (error: unknown) => boolean = () => false,
  ) {
    this.#send = send;
    this.#lingerMs = lingerMs;
    this.#batchBytesMax = batchBytesMax;
    this.#failsQueued = failsQueued;
  }

  /** Queues `records` (already checked and partitioned); resolves when the broker acknowledged them. */
  add(records: readonly OutgoingRecord[], bytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ records, bytes, resolve, reject });
      this.#queuedBytes += bytes;
      if (this.#inFlight !== undefined) return; // Sent when the request in flight completes.
      if (this.#queuedBytes >= this.#batchBytesMax || this.#lingerMs === 0) {
        this.#flushSoon();
      } else {
        this.#timer ??= setTimeout(() => {
          this.#timer = undefined;
          this.#flush();
        }, this.#lingerMs);
      }
    });
  }

  /** Resolves once nothing is queued or in flight (settled either way). */
  async idle(): Promise<void> {
    while (this.#inFlight !== undefined || this.#queue.length > 0) {
      if (this.#inFlight === undefined) this.#flush();
      await this.#inFlight?.catch(() => {});
    }
  }

  /** Rejects everything queued (not what is in flight) with `error` and stops the linger timer. */
  abort(error: unknown): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const queue = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const pending of queue) pending.reject(error);
  }

  #flushSoon(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    if (this.#inFlight !== undefined || this.#queue.length === 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // Take whole publishes up to the byte bound (at least one, however large).
    let taken = 0;
    let bytes = 0;
    while (taken < this.#queue.length) {
      const next = this.#queue[taken]!;
      if (taken > 0 && bytes + next.bytes > this.#batchBytesMax) break;
      bytes += next.bytes;
      taken += 1;
    }
    const batch = this.#queue.splice(0, taken);
    this.#queuedBytes -= bytes;
    const records: OutgoingRecord[] = [];
    for (const pending of batch) for (const record of pending.records) records.push(record);
    const sent = this.#send(records).then(
      () => {
        for (const pending of batch) pending.resolve();
      },
      (error: unknown) => {
        for (const pending of batch) pending.reject(error);
        if (this.#failsQueued(error)) this.abort(error);
      },
    );
    this.#inFlight = sent;
    void sent.finally(() => {
      this.#inFlight = undefined;
      if (this.#queue.length > 0) this.#flush();
    });
  }
}
