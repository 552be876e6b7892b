/**
 * When a partition writes its checkpoint (partition-checkpoint.ts has the file format). The
 * writer asks after syncs at most every `checkpointIntervalMs` (after the first sync already when
 * an unclean open deferred the recovery checkpoint), after every roll and on close;
 * retention asks before it deletes a segment, because the raised log start offset must be durable
 * before any file goes.
 *
 * Each write records the state current when it starts. At most one write runs at a time, so an
 * older state never lands after a newer one; requests made while a write waits to start share it.
 * A failed write means the disk is misbehaving: the scheduler reports it (the writer then makes
 * the partition read-only) and the request rejects.
 */

import { ioError, LogError } from './errors.ts';
import type { FileSystem } from './file-system.ts';
import { type PartitionCheckpoint, writePartitionCheckpoint } from './partition-checkpoint.ts';

/** What a {@link CheckpointScheduler} needs from its partition. */
export interface CheckpointSchedulerOptions {
  readonly fileSystem: FileSystem;
  readonly directory: string;
  /** Least time between checkpoints requested through {@link CheckpointScheduler.requestSoon}. */
  readonly checkpointIntervalMs: number;
  readonly clock: () => number;
  /** The state to record, read when a write starts. */
  readonly current: () => PartitionCheckpoint;
  /** Called with the error of a failed write, before the request rejects. */
  readonly onFailure: (error: LogError) => void;
  /**
   * Whether the first {@link CheckpointScheduler.requestSoon} writes at once: the checkpoint on
   * disk is older than the state (an unclean open deferred it, recovery.ts).
   */
  readonly dueAtOnce?: boolean;
}

/** Serializes the checkpoint writes of one partition. */
export class CheckpointScheduler {
  readonly #options: CheckpointSchedulerOptions;
  #lastAtMs: number;
  #tail: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;

  constructor(options: CheckpointSchedulerOptions) {
    this.#options = options;
    this.#lastAtMs = options.dueAtOnce === true ? Number.NEGATIVE_INFINITY : options.clock();
  }

  /** Requests a checkpoint if `checkpointIntervalMs` passed since the last one did; never rejects. */
  requestSoon(): void {
    const nowMs = this.#options.clock();
    if (nowMs - this.#lastAtMs >= this.#options.checkpointIntervalMs) {
      this.#lastAtMs = nowMs;
      this.request().catch(() => {});
    }
  }

  /** Writes the checkpoint; resolves once it is durable, rejects if the write failed. */
  request(): Promise<void> {
    if (this.#queued !== undefined) {
      return this.#queued;
    }
    const { fileSystem, directory } = this.#options;
    const next = this.#tail.then(async () => {
      this.#queued = undefined;
      try {
        await writePartitionCheckpoint(fileSystem, directory, this.#options.current());
      } catch (error) {
        this.#options.onFailure(
          error instanceof LogError ? error : ioError(`cannot checkpoint ${directory}`, error),
        );
        throw error;
      }
    });
    this.#queued = next;
    this.#tail = next.catch(() => {});
    return next;
  }

  /** Resolves once every requested write ended (successfully or not). */
  idle(): Promise<void> {
    return this.#tail;
  }
}
