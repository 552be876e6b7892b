/**
 * Bounded exponential backoff with jitter, for a subscription's retries while its broker is gone:
 * the n-th consecutive failure waits a delay drawn uniformly from [d/2, d], where d starts at
 * `firstMs` and doubles up to `maxMs`. A success resets it, so the next outage starts short again.
 */
export class Backoff {
  readonly #firstMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #failures = 0;

  constructor(firstMs: number, maxMs: number, random: () => number = Math.random) {
    if (!(firstMs > 0 && maxMs >= firstMs)) throw new RangeError(`backoff: need 0 < ${firstMs} <= ${maxMs}`);
    this.#firstMs = firstMs;
    this.#maxMs = maxMs;
    this.#random = random;
  }

  /** Consecutive failures since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** Records a failure and returns how long to wait before the next attempt, in milliseconds. */
  next(): number {
    // Capped exponent: 2 ** 30 already exceeds any bound the options allow.
    const ceilingMs = Math.min(this.#maxMs, this.#firstMs * 2 ** Math.min(this.#failures, 30));
    this.#failures += 1;
    return Math.round(ceilingMs / 2 + (this.#random() * ceilingMs) / 2);
  }

  /** Records a success: the next failure waits `firstMs` (with jitter) again. */
  reset(): void {
    this.#failures = 0;
  }
}
