/**
 * Publish-order hints: which message of a topic this process published first, across partitions.
 * Partitions are independent logs, and every record of one `publish` call carries the same
 * millisecond timestamp, so the log alone cannot say that message 3 of a call (partition 1) came
 * before message 4 (partition 0). Groups use these hints to deliver in publish order where they
 * can; per-key order never depends on them (it follows from offsets within a partition).
 *
 * Hints live in memory only and are bounded per partition; after a restart, or for records older
 * than the bound, groups fall back to (timestamp, offset) order.
 */

/** How many recent records per partition keep a hint. */
export const ORDER_HINTS_PER_PARTITION_MAX = 65_536;

/** The hints of one topic. */
export class PublishOrder {
  readonly #hints: Map<bigint, number>[];
  #next = 0;

  constructor(partitions: number) {
    this.#hints = Array.from({ length: partitions }, () => new Map<bigint, number>());
  }

  /** Reserves `count` consecutive hints for one publish call; returns the first. */
  reserve(count: number): number {
    const first = this.#next;
    this.#next += count;
    return first;
  }

  /** Records that `offsets` of `partition` (ascending from `baseOffset`) got `hints`. */
  record(partition: number, baseOffset: bigint, hints: readonly number[]): void {
    const map = this.#hints[partition]!;
    for (let index = 0; index < hints.length; index++) map.set(baseOffset + BigInt(index), hints[index]!);
    // Maps iterate in insertion order, so the oldest hints go first.
    for (const offset of map.keys()) {
      if (map.size <= ORDER_HINTS_PER_PARTITION_MAX) break;
      map.delete(offset);
    }
  }

  /** The hint of a record, if remembered. */
  of(partition: number, offset: bigint): number | undefined {
    return this.#hints[partition]?.get(offset);
  }
}
