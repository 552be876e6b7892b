/**
 * Which closed segments of a partition stay warm (descriptor open, indexes in memory) and which go
 * cold. Without it every segment ever rolled would keep a descriptor and about 5 bytes of index
 * per KiB of log (8-byte offset entries and 12-byte time entries every `indexIntervalBytes`, 4 KiB
 * by default) for as long as it is retained, so memory and descriptors would grow with retained
 * data: 10 GiB retained is some 50 MiB of indexes and a descriptor per GiB.
 *
 * The bound: at most `closedSegmentsWarmMax` closed segments of a partition are warm, plus any
 * being read at the moment (a read holds its segment, and a held segment is never cooled), plus
 * the active segment, which is always warm. So a partition holds at most `closedSegmentsWarmMax +
 * 1` descriptors and indexes of at most that many segments of `segmentBytesMax` each, whatever it
 * retains. Segments are cooled least recently read first, right after recovery, after every roll
 * and whenever a read warms a cold one. A consumer catching up reads segments in order, so it warms
 * each once; two far-apart readers keep two warm.
 */

import type { FileSystem } from './file-system.ts';
import type { Segment } from './segment.ts';

/** Default most closed segments of a partition kept warm. */
export const CLOSED_SEGMENTS_WARM_MAX_DEFAULT = 4;

/** Keeps the warm closed segments of one partition within their bound. */
export class SegmentResidency {
  readonly #segments: readonly Segment[];
  readonly #fileSystem: FileSystem;
  readonly #warmMax: number;
  /** Bumped by every warm, to order segments by last use without reading a clock. */
  #tick = 0;
  #trimming: Promise<void> | undefined;
  #trimAgain = false;

  /** `segments` is the partition's live list (the last one active); it is read, never changed. */
  constructor(segments: readonly Segment[], fileSystem: FileSystem, closedSegmentsWarmMax: number) {
    this.#segments = segments;
    this.#fileSystem = fileSystem;
    this.#warmMax = closedSegmentsWarmMax;
  }

  /** Warm closed segments right now (for tests and operators). */
  get warmClosedCount(): number {
    let count = 0;
    for (let index = 0; index < this.#segments.length - 1; index++) {
      if (this.#segments[index]!.isWarm) count++;
    }
    return count;
  }

  /**
   * Makes `segment` warm for a read (the caller holds a reader reference on it) and marks it most
   * recently used; cools others beyond the bound when it had been cold.
   */
  async warm(segment: Segment): Promise<void> {
    segment.lastUseTick = ++this.#tick;
    if (segment.isWarm) return;
    await segment.warm(this.#fileSystem);
    void this.trim();
  }

  /**
   * Cools the least recently used idle closed segments until at most the bound are warm. Calls
   * while a pass runs fold into one more pass after it, however many passes that takes (each is
   * asked for by a read that warmed a segment, so they end when the reads do). Never rejects: a
   * descriptor that fails to close is already forgotten by the segment, and nothing else can go
   * wrong.
   */
  trim(): Promise<void> {
    if (this.#trimming !== undefined) {
      this.#trimAgain = true;
      return this.#trimming;
    }
    this.#trimming = this.#trimPasses().finally(() => {
      this.#trimming = undefined;
    });
    return this.#trimming;
  }

  async #trimPasses(): Promise<void> {
    // Until no call arrived during a pass. Capping the passes (it was two) dropped the request of
    // a segment warmed during the last one, which then stayed warm beyond the bound until some
    // later read warmed another (seen as 4 warm closed segments with a bound of 2 under CI load).
    for (;;) {
      this.#trimAgain = false;
      const warm = this.#segments.slice(0, -1).filter((segment) => segment.isWarm);
      warm.sort((left, right) => left.lastUseTick - right.lastUseTick);
      let excess = warm.length - this.#warmMax;
      for (const segment of warm) {
        if (excess <= 0) break;
        if (await segment.cool(this.#fileSystem).catch(() => true)) excess--;
      }
      if (!this.#trimAgain) return;
    }
  }
}
