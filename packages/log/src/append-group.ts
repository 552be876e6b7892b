/**
 * Group commit: which queued appends the writer puts into one writev, and when it rolls to a new
 * segment first. Pure decisions over the queue and the active segment; partition-writer.ts does
 * the I/O. A group never crosses a segment boundary, so a roll always happens between groups.
 */

import type { ResolvedPartitionOptions } from './partition-options.ts';
import type { AppendResult } from './partition-writer.ts';
import { SEGMENT_OFFSETS_LIMIT, type Segment } from './segment.ts';

/**
 * Told once how an append ended (`Partition.appendTo`). It must not throw: the writer settles a
 * whole group in one loop, and a throw would leave the rest of the group unsettled.
 */
export interface AppendWaiter {
  /** Durable under the fsync policy; the records got `baseOffset` .. `baseOffset + recordCount - 1`. */
  appended(baseOffset: bigint, recordCount: number): void;
  /** Refused or failed: nothing of the append is acknowledged. */
  failed(error: unknown): void;
}

/** Tells `append`'s waiter, or settles its promise, that it is durable, or that it failed with `error`. */
export function settleAppend(append: PendingAppend, error: unknown): void {
  const { waiter, baseOffset, recordCount } = append;
  if (error !== undefined) {
    if (waiter === undefined) append.reject!(error);
    else waiter.failed(error);
  } else if (waiter !== undefined) {
    waiter.appended(baseOffset, recordCount);
  } else {
    const lastOffset = recordCount === 1 ? baseOffset : baseOffset + BigInt(recordCount - 1);
    append.resolve!({ baseOffset, lastOffset });
  }
}

/**
 * An append accepted into the queue: its encoded batch (unsealed when the log encoded it, see
 * batch-merge.ts), its offsets and who it settles: its
 * `waiter` (`Partition.appendTo`), or else the `resolve` and `reject` of the promise
 * `Partition.append` returned (kept as they are, not wrapped in a waiter: an object more per append).
 */
export interface PendingAppend {
  readonly bytes: Buffer;
  readonly baseOffset: bigint;
  readonly recordCount: number;
  readonly timestampMsMax: number;
  /** Whether `bytes` is a finished batch (a client's); false: the log's own, without its CRC yet. */
  readonly sealed: boolean;
  readonly waiter: AppendWaiter | undefined;
  readonly resolve: ((result: AppendResult) => void) | undefined;
  readonly reject: ((error: unknown) => void) | undefined;
}

/** Most batches written by one writev (Linux IOV_MAX is 1024). */
const GROUP_BATCHES_MAX = 1024;
/**
 * Most bytes written by one writev. Small enough that a sync starts soon after a burst of large
 * appends arrives and the next group's write overlaps it (measured: 16 MiB groups serialized
 * encode, write and sync of a 256 x 100-record burst into one ~10 ms round), large enough that
 * the fixed cost of a sync stays small against its transfer time (the raw-limit benchmark writes
 * 1 MiB per sync too).
 */
const GROUP_BYTES_MAX = 1024 * 1024;

/**
 * Whether `next` must go to a new segment: `active` would grow past `segmentBytesMax`, is older
 * than `segmentAgeMsMax`, or would hold more offsets than its index can address. An empty segment
 * is never rolled, so a batch larger than a segment still gets written.
 */
export function shouldRoll(
  active: Segment,
  next: PendingAppend,
  options: Pick<ResolvedPartitionOptions, 'segmentBytesMax' | 'segmentAgeMsMax' | 'clock'>,
): boolean {
  if (active.sizeBytes === 0) {
    return false;
  }
  return (
    active.sizeBytes + next.bytes.length > options.segmentBytesMax ||
    options.clock() - active.ageStartMs >= options.segmentAgeMsMax ||
    Number(next.baseOffset - active.baseOffset) + next.recordCount > SEGMENT_OFFSETS_LIMIT
  );
}

/**
 * How many appends from the front of `pending` form the next group written to `active`: at least
 * one, and no more than fit the segment, {@link GROUP_BYTES_MAX} and {@link GROUP_BATCHES_MAX}.
 */
export function groupCount(
  pending: readonly PendingAppend[],
  active: Segment,
  segmentBytesMax: number,
): number {
  const room = segmentBytesMax - active.sizeBytes;
  let bytes = 0;
  let count = 0;
  while (count < pending.length && count < GROUP_BATCHES_MAX) {
    const append = pending[count]!;
    const fits =
      count === 0 ||
      (bytes + append.bytes.length <= room &&
        bytes + append.bytes.length <= GROUP_BYTES_MAX &&
        Number(append.baseOffset - active.baseOffset) + append.recordCount <= SEGMENT_OFFSETS_LIMIT);
    if (!fits) {
      break;
    }
    bytes += append.bytes.length;
    count++;
  }
  return count;
}
