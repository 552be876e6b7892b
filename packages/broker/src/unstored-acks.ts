/**
 * The acks of a broker's consumer groups whose position write has not finished, counted across
 * every group: see `ACKS_UNSTORED_MAX` in consumer-group.ts. A handler awaiting such an ack keeps
 * its message alive until the write lands; what costs the process is the sum over its groups (in
 * a catch-up, those messages outlive scavenges and are promoted: garbage collection was most of the
 * CPU with 10 groups × 8,192 waiting), so the bound is the broker's, not each group's.
 */

/** A shared count with a bound, and the groups to wake once it drops back below it. */
export class UnstoredAcks {
  /** Most acks waiting before groups stop admitting records. */
  readonly max: number;
  #count = 0;
  /** Groups that stopped admitting because the count was at the bound: woken once it is not. */
  readonly #waiting = new Set<() => void>();

  /** `max`: the bound (at least 1). */
  constructor(max: number) {
    if (!(Number.isSafeInteger(max) && max >= 1)) {
      throw new RangeError(`UnstoredAcks: max must be a positive integer, not ${max}`);
    }
    this.max = max;
  }

  /** Acks waiting now, across the groups sharing this count. */
  get count(): number {
    return this.#count;
  }

  /** Whether the bound is reached: a group admits no more records until it is not. */
  get full(): boolean {
    return this.#count >= this.max;
  }

  /** `acks` more acks wait for a write. */
  add(acks: number): void {
    this.#count += acks;
  }

  /** `acks` acks' write finished (stored or not); wakes the waiting groups once below the bound. */
  remove(acks: number): void {
    this.#count -= acks;
    if (this.#count < this.max && this.#waiting.size > 0) {
      const waiting = [...this.#waiting];
      this.#waiting.clear();
      for (const wake of waiting) wake();
    }
  }

  /** Calls `wake` once the count is below the bound again (once; a group asks again when refused). */
  wakeWhenRoom(wake: () => void): void {
    this.#waiting.add(wake);
  }

  /** A closed group: no wake-up for it. */
  forget(wake: () => void): void {
    this.#waiting.delete(wake);
  }
}
