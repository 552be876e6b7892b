/**
 * What the parts of an open partition share: the options, the segments, the offsets readers may
 * see, why the partition stopped accepting appends or serving reads, and its lifecycle. The
 * {@link Partition} front owns one and hands it to its writer, reader and retention.
 *
 * Ownership, which is what keeps the fault model of partition.ts true without locks:
 * - The writer (partition-writer.ts) is the only one to append segments, advance
 *   `highWatermark` (through {@link PartitionState.advanceHighWatermark}) and set `failure`.
 * - Retention (retention.ts) is the only one to remove segments, always from the front, and to
 *   raise `logStartOffset`; it never touches the active (last) segment.
 * - The reader (partition-reader.ts) only records `corruption`, the first bad batch it met.
 * - The front moves `lifecycle` from `'open'` to `'closing'` to `'closed'`.
 */

import { invariant, LogError } from './errors.ts';
import type { ResolvedPartitionOptions } from './partition-options.ts';
import type { Segment } from './segment.ts';
import type { SegmentResidency } from './segment-residency.ts';

/** Called with the new high watermark whenever it advances. */
export type AppendListener = (highWatermark: bigint) => void;

/** The state of one open partition shared by its writer, reader and retention. */
export class PartitionState {
  readonly options: ResolvedPartitionOptions;
  /** The segments in offset order; the last one is active (the only one written). */
  readonly segments: Segment[];
  readonly listeners = new Set<AppendListener>();
  /** Which closed segments stay warm (the reader warms, the front trims after rolls). */
  readonly residency: SegmentResidency;
  /** First offset still stored (raised by retention). */
  logStartOffset: bigint;
  /** Offset after the last durable record: readers see offsets below it. */
  highWatermark: bigint;
  /** Set once a write, sync, checkpoint or deletion failed: the partition is read-only. */
  failure: LogError | undefined;
  /** Set once a read met a bad batch in durable data: nothing is served or appended any more. */
  corruption: LogError | undefined;
  lifecycle: 'open' | 'closing' | 'closed' = 'open';

  constructor(
    options: ResolvedPartitionOptions,
    segments: Segment[],
    logStartOffset: bigint,
    residency: SegmentResidency,
  ) {
    invariant(segments.length > 0, 'a partition has an active segment');
    this.options = options;
    this.segments = segments;
    this.residency = residency;
    this.logStartOffset = logStartOffset;
    this.highWatermark = segments.at(-1)!.nextOffset;
  }

  /** The partition directory. */
  get directory(): string {
    return this.options.directory;
  }

  /** The segment appends go to. */
  get activeSegment(): Segment {
    return this.segments.at(-1)!;
  }

  /** Publishes `offset` as the new high watermark (if it is higher) and tells the listeners. */
  advanceHighWatermark(offset: bigint): void {
    if (offset <= this.highWatermark) {
      return;
    }
    this.highWatermark = offset;
    for (const listener of this.listeners) {
      try {
        listener(offset);
      } catch (error) {
        // A listener bug must not stall the writer; surface it as an uncaught error instead.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /**
   * Records that `segment` holds a bad batch at `position` (where `offset` was expected) and
   * returns the `LOG_CORRUPT` error; the first one recorded stays, and the partition stops serving.
   */
  corrupt(segment: Segment, position: number, offset: bigint, reason: string): LogError {
    this.corruption ??= new LogError(
      'LOG_CORRUPT',
      `log corrupt in ${segment.logPath} at byte ${position} (offset ${offset}): ${reason}; the partition is no longer served; restore it from a replica or backup, or move the damaged segment away to accept the loss`,
    );
    return this.corruption;
  }
}
