/**
 * The acks a dispatcher called and the transport has not settled yet. An ack settles once the
 * transport stored the position (the embedded broker: a group commit, milliseconds in which
 * thousands of messages are acked when catching up). Awaiting each in the frame that handled the
 * message kept that frame (envelope, payload, context) alive long enough to be promoted out of
 * V8's young generation, which was most of the bus's garbage-collection cost; they are counted
 * instead, with one pair of callbacks for all of them, and `stop()` waits for the count to drop.
 * Bounded by what the transport keeps unsettled (its `inFlightMax` and its own ack backlog).
 */
export class PendingAcks {
  #count = 0;
  /** Called when the count drops to zero while {@link settled} waits. */
  #onSettled: (() => void) | undefined;
  readonly #onFailed: (error: unknown) => void;
  readonly #settle = (): void => {
    this.#count -= 1;
    if (this.#count === 0) this.#onSettled?.();
  };
  readonly #fail = (error: unknown): void => {
    this.#settle();
    this.#onFailed(error);
  };

  /** `onFailed` hears of every ack that rejected (the transport redelivers its message). */
  constructor(onFailed: (error: unknown) => void) {
    this.#onFailed = onFailed;
  }

  /** Acks not settled yet. */
  get count(): number {
    return this.#count;
  }

  /** Counts `ack` until it settles; a rejection goes to `onFailed`, never unhandled. */
  track(ack: Promise<void>): void {
    this.#count += 1;
    ack.then(this.#settle, this.#fail);
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
