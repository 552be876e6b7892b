/**
 * Retention of a partition: deletes whole closed segments from the front once they fall outside
 * `retentionMs` (their newest record is older) or `retentionBytes` (the partition is larger
 * without them), and raises the log start offset. The active segment is never deleted.
 *
 * Crash safety: the new log start offset is checkpointed before any file is removed, so a crash
 * between the two leaves segments below the log start (recovery deletes them) and never a log
 * start that points at deleted data. A failed checkpoint or deletion makes the partition
 * read-only through the writer, like any other failed write.
 *
 * At most one run is in progress; callers arriving meanwhile share one queued run, which starts
 * from a fresh view of the segments once the running one ends.
 */

import { ioError } from './errors.ts';
import type { PartitionState } from './partition-state.ts';
import type { PartitionWriter } from './partition-writer.ts';

/** Retention of one partition. */
export class Retention {
  readonly #state: PartitionState;
  readonly #writer: PartitionWriter;
  #running: Promise<number> | undefined;
  #queued: Promise<number> | undefined;

  constructor(state: PartitionState, writer: PartitionWriter) {
    this.#state = state;
    this.#writer = writer;
  }

  /** See `Partition.enforceRetention`. */
  enforce(): Promise<number> {
    if (this.#state.lifecycle !== 'open' || this.#state.failure !== undefined) {
      return Promise.resolve(0);
    }
    const running = this.#running;
    if (running === undefined) {
      return this.#start();
    }
    // A run is in progress with an older view: queue one more (shared by every caller meanwhile).
    this.#queued ??= running
      .catch(() => 0)
      .then(() => {
        this.#queued = undefined;
        return this.#state.lifecycle === 'open' && this.#state.failure === undefined ? this.#start() : 0;
      });
    return this.#queued;
  }

  /** Resolves once the queued and the running run ended (closing waits for this). */
  async idle(): Promise<void> {
    await this.#queued?.catch(() => {});
    await this.#running?.catch(() => {});
  }

  #start(): Promise<number> {
    const run = this.#apply().finally(() => {
      if (this.#running === run) {
        this.#running = undefined;
      }
    });
    this.#running = run;
    return run;
  }

  /** How many segments from the front fall outside the limits (never the active one). */
  #expiredCount(): number {
    const { retentionMs, retentionBytes } = this.#state.options;
    const nowMs = this.#state.options.clock();
    const segments = this.#state.segments;
    let totalBytes = 0;
    for (const segment of segments) {
      totalBytes += segment.sizeBytes;
    }
    let count = 0;
    for (let index = 0; index < segments.length - 1; index++) {
      const segment = segments[index]!;
      const expired = Number.isFinite(retentionMs) && nowMs - segment.timestampMsMax > retentionMs;
      const oversized = Number.isFinite(retentionBytes) && totalBytes - segment.sizeBytes >= retentionBytes;
      if (!expired && !oversized) {
        break;
      }
      totalBytes -= segment.sizeBytes;
      count++;
    }
    return count;
  }

  async #apply(): Promise<number> {
    const count = this.#expiredCount();
    if (count === 0) {
      return 0;
    }
    const segments = this.#state.segments;
    const newStart = segments[count]!.baseOffset;
    if (newStart > this.#state.logStartOffset) {
      this.#state.logStartOffset = newStart;
    }
    await this.#writer.requestCheckpoint();
    // Rolls only append at the end, so the first `count` segments are still the ones chosen.
    const removed = segments.splice(0, count);
    for (const segment of removed) {
      try {
        await segment.delete(this.#state.options.fileSystem);
      } catch (error) {
        this.#writer.fail(ioError(`cannot delete segment ${segment.logPath}`, error));
        throw this.#state.failure;
      }
    }
    return count;
  }
}
