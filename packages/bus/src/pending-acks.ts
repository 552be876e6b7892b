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
  readonly #onFailed: (error: unknown, subject: Subject) => void;
  /** One function for every ack that settles, not a closure per message. */
  readonly #settle = (): void => {
    this.#count -= 1;
    if (this.#count === 0) this.#onSettled?.();
  };

  /** `onFailed` hears of every ack that rejected, with what it was for (the transport redelivers it). */
  constructor(onFailed: (error: unknown, subject: Subject) => void) {
    this.#onFailed = onFailed;
  }

  /** Acks not settled yet. */
  get count(): number {
    return this.#count;
  }

  /** Counts `ack` until it settles; a rejection goes to `onFailed` with `subject`, never unhandled. */
  track(ack: Promise<void>, subject: Subject): void {
    this.#count += 1;
    ack.then(this.#settle, (error: unknown) => {
      this.#settle();
      this.#onFailed(error, subject);
    });
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
