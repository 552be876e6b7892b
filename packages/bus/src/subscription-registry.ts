/**
 * The part of a transport's lifecycle every broker shares: the open subscriptions, the refusal of
 * new work once closed, and a close that runs once however often it is called. The transports kept
 * five copies of it that had drifted (two left a subscription whose start failed open).
 */
import { ClosedError } from './errors.ts';

/** A subscription as the registry sees it: something to close. */
export interface RegisteredSubscription {
  close(): Promise<void>;
}

/**
 * A transport's open subscriptions and its closed state. Holds only what `subscribe` added and
 * the subscriptions did not `forget`: bounded by the subscriptions the application opened.
 */
export class SubscriptionRegistry<S extends RegisteredSubscription> {
  readonly #subscriptions = new Set<S>();
  readonly #what: string;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** `what` names the transport in its {@link ClosedError} (`"redis transport"`). */
  constructor(what: string) {
    this.#what = what;
  }

  /** True from the first `close()` call on. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The error of an operation refused because the transport is closed. */
  closedError(): ClosedError {
    return new ClosedError(this.#what);
  }

  /** Throws {@link ClosedError} once the transport is closed. */
  assertOpen(): void {
    if (this.#closed) throw this.closedError();
  }

  /**
   * Registers `subscription`, then runs `start`. Resolves with the started subscription; when
   * `start` rejects, closes the subscription and rejects with that error; when the transport closed
   * while it started, closes it and rejects with {@link ClosedError}.
   */
  async start(subscription: S, start: () => Promise<void>): Promise<S> {
    this.#subscriptions.add(subscription);
    try {
      await start();
    } catch (error) {
      await subscription.close();
      throw error;
    }
    if (this.#closed) {
      await subscription.close();
      throw this.closedError();
    }
    return subscription;
  }

  /** Drops a subscription that closed (called by the subscription itself). */
  forget(subscription: S): void {
    this.#subscriptions.delete(subscription);
  }

  /**
   * Marks the transport closed and runs `close` with the subscriptions open at that moment, once:
   * every call resolves or rejects as that one run does.
   */
  close(close: (subscriptions: readonly S[]) => Promise<void>): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true;
      this.#closing = close([...this.#subscriptions]);
    }
    return this.#closing;
  }
}
