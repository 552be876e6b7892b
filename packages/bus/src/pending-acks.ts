/**
 * The acks a dispatcher called and the transport has not settled yet. An ack settles once the
 * transport stored the position (the embedded broker: a group commit, milliseconds in which
 * thousands of messages are acked when catching up). Awaiting each in the frame that handled the
 * message kept that frame (envelope, payload, context) alive long enough to be promoted out of
 * V8's young generation, which was most of the bus's garbage-collection cost; they are counted
 * instead, and `stop()` waits for the count to drop.
 * Bounded by what the transport keeps unsettled (its `inFlightMax` and its own ack backlog).
 */
export class PendingAcks<Subject> {
  #count = 0;
  /** Called when the count drops to zero while {@link settled} waits. */
  #onSettled: (() => void) | undefined;
  readonly #onFailed: (error: unknown, subject: Subject, acks: number) => void;
  /**
   * The last ack tracked and the batch counting it. A transport may answer many acks with one
   * promise (the embedded broker: the position write of a round); those are counted in one batch,
   * with one reaction and one subject kept, not one per message. Cleared once that batch settles.
   */
  #lastAck: Promise<void> | undefined;
  #lastBatch: AckBatch<Subject> | undefined;

  /**
   * `onFailed` hears of every ack that rejected, with what it was for (the transport redelivers
   * it): once per batch of acks that shared one promise, with the first subject and the count.
   */
  constructor(onFailed: (error: unknown, subject: Subject, acks: number) => void) {
    this.#onFailed = onFailed;
  }

  /** Acks not settled yet. */
  get count(): number {
    return this.#count;
  }

  /** Counts `ack` until it settles; a rejection goes to `onFailed` with `subject`, never unhandled. */
  track(ack: Promise<void>, subject: Subject): void {
    this.#count += 1;
    if (ack === this.#lastAck) {
      this.#lastBatch!.acks += 1;
      return;
    }
    this.#startBatch(ack, subject);
  }

  /**
   * A batch for a promise not seen before. Its own method: the callbacks capture the batch and
   * `this`, and written in `track` they made every call allocate a context, the calls that only
   * count one more ack of the batch included.
   */
  #startBatch(ack: Promise<void>, subject: Subject): void {
    const batch: AckBatch<Subject> = { acks: 1, subject };
    this.#lastAck = ack;
    this.#lastBatch = batch;
    ack.then(
      () => this.#settle(batch),
      (error: unknown) => {
        this.#settle(batch);
        this.#onFailed(error, batch.subject, batch.acks);
      },
    );
  }

  /** A batch's promise settled: its acks no longer count (later ones need a batch of their own). */
  #settle(batch: AckBatch<Subject>): void {
    if (this.#lastBatch === batch) {
      this.#lastAck = undefined;
      this.#lastBatch = undefined;
    }
    this.#count -= batch.acks;
    if (this.#count === 0) this.#onSettled?.();
  }

  /** Resolves once no ack is pending or `deadlineMs` (a `performance.now()` time) passed. */
  async settled(deadlineMs: number): Promise<void> {
    const remainingMs = deadlineMs - performance.now();
    if (this.#count === 0 || remainingMs <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#onSettled = resolve;
      timer = setTimeout(resolve, remainingMs);
    });
    clearTimeout(timer);
    this.#onSettled = undefined;
  }
}

/** Acks tracked with one promise. */
interface AckBatch<Subject> {
  acks: number;
  /** The first one's subject, reported if the promise rejects. */
  readonly subject: Subject;
}
