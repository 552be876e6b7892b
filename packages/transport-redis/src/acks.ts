/**
 * Acknowledgements gathered per stream: the acks of one event-loop turn go to Redis as one `XACK`
 * with every id, instead of one command each. Each ack still resolves only once Redis applied its
 * `XACK` (or rejects with that command's error), so nothing acked is reported before it is stored.
 *
 * Bound: a batch holds the ids acked in one turn; a subscription has at most `inFlightMax` entries
 * in flight per partition, so a batch never exceeds that many ids.
 */

/** Sends one `XACK` of `ids` on `stream`; resolves once Redis replied. */
export type SendAcks = (stream: string, ids: string[]) => Promise<unknown>;

interface Batch {
  readonly ids: string[];
  readonly settle: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
}

/** Gathers acks per stream until the end of the current event-loop turn. */
export class AckBatcher {
  readonly #send: SendAcks;
  readonly #batches = new Map<string, Batch>();
  #scheduled = false;

  constructor(send: SendAcks) {
    this.#send = send;
  }

  /** Acks `id` on `stream` with the other acks of this turn; resolves once Redis applied it. */
  ack(stream: string, id: string): Promise<void> {
    let batch = this.#batches.get(stream);
    if (batch === undefined) {
      batch = { ids: [], settle: [] };
      this.#batches.set(stream, batch);
    }
    batch.ids.push(id);
    const { settle } = batch;
    const done = new Promise<void>((resolve, reject) => settle.push({ resolve, reject }));
    if (!this.#scheduled) {
      this.#scheduled = true;
      // setImmediate, not a microtask: handlers that finish in the same I/O phase share the batch.
      setImmediate(() => this.#flush());
    }
    return done;
  }

  #flush(): void {
    this.#scheduled = false;
    for (const [stream, batch] of this.#batches) {
      this.#send(stream, batch.ids).then(
        () => {
          for (const each of batch.settle) each.resolve();
        },
        (error: unknown) => {
          for (const each of batch.settle) each.reject(error);
        },
      );
    }
    this.#batches.clear();
  }
}
