/**
 * Gathers the SQS calls of one tick (deletes, visibility changes) into batch calls of at most 10,
 * so acking a burst of messages costs a tenth of the requests. Each item's promise settles with
 * its own entry's outcome.
 */
import { AWS_BATCH_MAX } from './options.ts';

/** One batch call: resolves with the ids of the entries that failed and why. */
export type SendBatch<T> = (items: readonly { id: string; item: T }[]) => Promise<Map<string, string>>;

interface Waiting<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Batches items added in the same tick; bounded by the callers (each item is a held message). */
export class Batcher<T> {
  readonly #send: SendBatch<T>;
  #waiting: Waiting<T>[] = [];
  #scheduled = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(send: SendBatch<T>) {
    this.#send = send;
  }

  /** Queues `item`; resolves once its batch call succeeded for it. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    });
  }

  /** Resolves once every batch call started so far has finished. */
  async idle(): Promise<void> {
    while (this.#scheduled || this.#inFlight.size > 0) {
      if (this.#scheduled) await new Promise((resolve) => setImmediate(resolve));
      await Promise.allSettled([...this.#inFlight]);
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (let start = 0; start < waiting.length; start += AWS_BATCH_MAX) {
      const chunk = waiting.slice(start, start + AWS_BATCH_MAX);
      const call = this.#send(chunk.map(({ item }, index) => ({ id: String(index), item })))
        .then(
          (failed) => {
            chunk.forEach((entry, index) => {
              const reason = failed.get(String(index));
              if (reason === undefined) entry.resolve();
              else entry.reject(new Error(reason));
            });
          },
          (error: unknown) => {
            for (const entry of chunk)
              entry.reject(error instanceof Error ? error : new Error(String(error)));
          },
        )
        .finally(() => this.#inFlight.delete(call));
      this.#inFlight.add(call);
    }
  }
}
