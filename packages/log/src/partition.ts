/**
 * A partition: an append-only, crash-safe log of RecordBatch v2 batches in a directory of
 * segments. One writer (the flush loop) owns all writes, syncs, rolls and index updates, so no
 * locking is needed inside the process; the directory lock keeps other processes out.
 *
 * Fault model (what this module defends against, and how):
 * - Torn writes: a crash mid-write leaves a partial batch (or garbage) at the tail of the active
 *   segment. Appends are acknowledged only after the whole batch is written (and synced under
 *   `'always'`), and recovery validates every batch after the recovery point and truncates the
 *   first bad one and everything after it, so a torn tail never holds acknowledged data.
 * - Lost unsynced data: after an OS crash or power loss, data not yet fdatasynced may vanish or
 *   come back partly. Under `'always'` nothing acknowledged is unsynced; the other policies
 *   document their loss windows (see {@link FsyncPolicy}). Readers see only data up to the high
 *   watermark, which follows the policy's durability point.
 * - Bit flips (media or memory corruption): every batch carries a CRC-32C that is checked by
 *   recovery and on every read; a bad batch is never returned as data. Below the recovery point
 *   (or in a rolled segment) a bad batch is reported as `LOG_CORRUPT` with file and byte position
 *   and the partition stops serving, instead of truncating acknowledged data.
 * - fsync/write errors: after a failed write or fdatasync the page cache can no longer be trusted
 *   (Linux may drop the dirty pages and report success to a later fsync). The partition becomes
 *   read-only: the failed append and every later one reject, nothing is acknowledged after the
 *   error, and reads stay limited to data synced before it. Reopening revalidates the tail.
 * - Full disk: ENOSPC on write is reported as `LOG_DISK_FULL` and handled like any write error.
 * Memory and descriptors do not grow with retained data: besides the active segment, at most
 * `closedSegmentsWarmMax` closed segments (plus those being read) keep a descriptor and their
 * indexes in memory; the rest are reopened from their files when read (segment-residency.ts).
 * Not defended: a file system that acknowledges fdatasync without persisting (disable volatile
 * write caches), and corruption of the directory structure itself.
 *
 * Modules: this file is the front (the public class, opening and closing, the lifecycle) and
 * delegates to one module per job, which share a {@link PartitionState} (partition-state.ts says
 * who may change what):
 * - partition-writer.ts: append queue, pipelined group commit, sync, segment roll, failure;
 * - append-group.ts: which queued appends form one write, and when to roll first;
 * - batch-merge.ts: the log's own appends of one write merged into stored batches, and sealed;
 * - append-input.ts: checking and encoding what callers append;
 * - checkpoint-scheduler.ts: when the checkpoint (partition-checkpoint.ts) is written;
 * - partition-reader.ts: reads, record decoding, timestamp lookup, corruption detection;
 * - retention.ts: deleting closed segments outside the retention limits;
 * - segment-residency.ts: which closed segments keep a descriptor and their indexes in memory;
 * - recovery.ts: validating and repairing the directory at open.
 */

import type { AppendWaiter } from './append-group.ts';
import { acquireDirectoryLock, type DirectoryLock } from './directory-lock.ts';
import { invariant, ioError, LogError, systemErrorCode } from './errors.ts';
import {
  type PartitionOptions,
  type ResolvedPartitionOptions,
  resolvePartitionOptions,
} from './partition-options.ts';
import {
  PartitionReader,
  type ReadRecordsResult,
  type ReadResult,
  type TimestampLookup,
} from './partition-reader.ts';
import { type AppendListener, PartitionState } from './partition-state.ts';
import { type AppendResult, PartitionWriter } from './partition-writer.ts';
import type { RecordInput } from './record-batch.ts';
import { type RecoveryReport, recoverPartition } from './recovery.ts';
import { Retention } from './retention.ts';
import type { Segment } from './segment.ts';
import { SegmentResidency } from './segment-residency.ts';

export type { ReadRecordsResult, ReadResult, TimestampLookup } from './partition-reader.ts';
export type { AppendListener } from './partition-state.ts';
export type { AppendResult } from './partition-writer.ts';

/** A segment as seen from outside, for operators and tests. */
export interface SegmentDescription {
  /** First offset. */
  readonly baseOffset: bigint;
  /** Offset after the last written record. */
  readonly nextOffset: bigint;
  /** Bytes written. */
  readonly sizeBytes: number;
  /** Path of the `.log` file. */
  readonly logPath: string;
  /** Whether its descriptor is open and its indexes are in memory (the active one always is). */
  readonly warm: boolean;
}

/** Most onAppend listeners; more means a leak in the caller. */
const LISTENERS_MAX = 100_000;

/**
 * Opens (creating if needed) the partition in `options.directory`: locks the directory, recovers
 * the log (see recovery.ts) and starts accepting appends. Throws `LOG_LOCKED`, `LOG_NOT_WRITABLE`,
 * `LOG_CORRUPT`, `LOG_DISK_FULL`, `LOG_IO` or `LOG_INVALID_ARGUMENT`.
 */
export function openPartition(options: PartitionOptions): Promise<Partition> {
  return openLockedPartition(options, undefined);
}

/**
 * {@link openPartition} for a log store (not exported from the package): `storeLockPath` is the
 * store's held lock file, hard-linked as this partition's lock so taking it creates no file
 * (directory-lock.ts says why that matters and why exclusion is unchanged).
 */
export async function openLockedPartition(
  options: PartitionOptions,
  storeLockPath: string | undefined,
): Promise<Partition> {
  const resolved = resolvePartitionOptions(options);
  const lock = await acquireDirectoryLock(resolved.directory, {
    fileSystem: resolved.fileSystem,
    ...(storeLockPath === undefined ? {} : { linkFrom: storeLockPath }),
  });
  try {
    const recovered = await recoverPartition(
      resolved.fileSystem,
      resolved.directory,
      resolved.indexIntervalBytes,
      resolved.clock(),
    );
    // Recovery opened every segment; keep only the bound warm from the start.
    const residency = new SegmentResidency(
      recovered.segments,
      resolved.fileSystem,
      resolved.closedSegmentsWarmMax,
    );
    await residency.trim();
    return new Partition(
      resolved,
      lock,
      recovered.segments,
      recovered.logStartOffset,
      recovered.report,
      residency,
      recovered.checkpointPending,
    );
  } catch (error) {
    await lock.release();
    // Recovery reports what it recognises; a system error from any other call (a read of a
    // segment failing with EIO, found by the storage-fault simulation) is still a LogError.
    throw error instanceof LogError || systemErrorCode(error) === undefined
      ? error
      : ioError(`cannot open partition ${resolved.directory}`, error);
  }
}

/** An open partition. Create with {@link openPartition}; close with {@link Partition.close}. */
export class Partition {
  /** What recovery found and repaired when the partition was opened. */
  readonly recoveryReport: RecoveryReport;
  readonly #lock: DirectoryLock;
  readonly #state: PartitionState;
  readonly #writer: PartitionWriter;
  readonly #reader: PartitionReader;
  readonly #retention: Retention;
  #closing: Promise<void> | undefined;
  #timers: NodeJS.Timeout[] = [];

  /** Internal: use {@link openPartition}. */
  constructor(
    options: ResolvedPartitionOptions,
    lock: DirectoryLock,
    segments: Segment[],
    logStartOffset: bigint,
    report: RecoveryReport,
    residency: SegmentResidency,
    checkpointPending: boolean,
  ) {
    this.#lock = lock;
    this.recoveryReport = report;
    this.#state = new PartitionState(options, segments, logStartOffset, residency);
    this.#writer = new PartitionWriter(
      this.#state,
      () => {
        this.enforceRetention().catch(() => {});
        // The segment just rolled is warm: cool the least recently read one beyond the bound.
        void residency.trim();
      },
      checkpointPending,
    );
    this.#reader = new PartitionReader(this.#state);
    this.#retention = new Retention(this.#state, this.#writer);
    if (options.syncIntervalMs !== undefined) {
      this.#timers.push(setInterval(() => this.#writer.requestSync(), options.syncIntervalMs).unref());
    }
    if (Number.isFinite(options.retentionMs) || Number.isFinite(options.retentionBytes)) {
      this.#timers.push(
        setInterval(
          () => void this.enforceRetention().catch(() => {}),
          options.retentionCheckIntervalMs,
        ).unref(),
      );
    }
  }

  /** The partition directory. */
  get directory(): string {
    return this.#state.directory;
  }

  /** Offset after the last durable record: readers see offsets below it. */
  get highWatermark(): bigint {
    return this.#state.highWatermark;
  }

  /** First offset still stored (raised by retention). */
  get logStartOffset(): bigint {
    return this.#state.logStartOffset;
  }

  /** Offset the next accepted append will get (appends queued but not yet durable count). */
  get nextOffset(): bigint {
    return this.#writer.nextOffset;
  }

  /** Set once a write or sync failed: the partition is read-only and this is why. */
  get failure(): LogError | undefined {
    return this.#state.failure ?? this.#state.corruption;
  }

  /** The segments in offset order, the last one active. */
  describeSegments(): SegmentDescription[] {
    return this.#state.segments.map((segment) => ({
      baseOffset: segment.baseOffset,
      nextOffset: segment.nextOffset,
      sizeBytes: segment.sizeBytes,
      logPath: segment.logPath,
      warm: segment.isWarm,
    }));
  }

  /**
   * Appends `records` atomically: they are stored in one batch, which may also hold the appends
   * before and after this one in the same write (batch-merge.ts); offsets, timestamps, keys,
   * values and headers are as given. Resolves once the records are durable under the fsync policy;
   * rejects with `LOG_RECORD_TOO_LARGE`, `LOG_BATCH_TOO_LARGE`, `LOG_INVALID_BATCH`,
   * `LOG_QUEUE_FULL` (retriable), `LOG_READ_ONLY`, `LOG_IO`, `LOG_DISK_FULL`, `LOG_CORRUPT` or
   * `LOG_CLOSED`.
   */
  append(records: readonly RecordInput[]): Promise<AppendResult> {
    return this.#writer.append(records);
  }

  /**
   * {@link append} without a promise: `waiter.appended` is called once the batch is durable under
   * the fsync policy, `waiter.failed` with the same errors `append` rejects with (a refusal at
   * once, inside this call). For a caller that settles its own promise (the broker's publish):
   * the log's promise and its `then` were a promise and a microtask more per append.
   */
  appendTo(records: readonly RecordInput[], waiter: AppendWaiter): void {
    this.#writer.appendTo(records, waiter);
  }

  /**
   * Appends one raw client-encoded RecordBatch v2 (e.g. from a Kafka Produce request). Validates
   * length, magic, CRC-32C, the record count against LastOffsetDelta, and (when the codec is
   * registered) every record; then stores a copy with BaseOffset and PartitionLeaderEpoch
   * rewritten. Both fields lie outside the CRC range, so the client's CRC stays valid. Resolves
   * like {@link Partition.append}.
   */
  appendBatch(batch: Uint8Array): Promise<AppendResult> {
    return this.#writer.appendBatch(batch);
  }

  /**
   * Registers `listener` to be called with the new high watermark each time it advances, so a
   * broker can wake waiting consumers without polling. Returns a function that unregisters it.
   */
  onAppend(listener: AppendListener): () => void {
    invariant(typeof listener === 'function', 'onAppend takes a function');
    const listeners = this.#state.listeners;
    if (listeners.size >= LISTENERS_MAX) {
      throw new LogError(
        'LOG_INVALID_ARGUMENT',
        `partition ${this.directory} already has ${LISTENERS_MAX} append listeners; unsubscribe listeners that are no longer needed`,
      );
    }
    const entry: AppendListener = (offset) => listener(offset);
    listeners.add(entry);
    return () => {
      listeners.delete(entry);
    };
  }

  /**
   * Reads whole stored batches starting with the one that contains `offset`, up to `bytesMax`
   * bytes but always at least one batch (so a consumer can progress past a large batch). Only
   * durable data is returned, from one segment per call; every batch is CRC-checked first.
   * `offset` equal to the high watermark returns no batches; outside
   * [logStartOffset, highWatermark] throws `LOG_OFFSET_OUT_OF_RANGE`.
   */
  read(offset: bigint, bytesMax: number): Promise<ReadResult> {
    return this.#reader.read(offset, bytesMax);
  }

  /**
   * Like {@link Partition.read} but decodes the records and drops those before `offset`. Records'
   * keys and values are views into the read buffer.
   */
  readRecords(offset: bigint, bytesMax: number): Promise<ReadRecordsResult> {
    return this.#reader.readRecords(offset, bytesMax);
  }

  /**
   * The first durable record whose timestamp is at or after `timestampMs`, found through the time
   * index, or undefined when every record is older.
   */
  offsetForTimestamp(timestampMs: number): Promise<TimestampLookup | undefined> {
    return this.#reader.offsetForTimestamp(timestampMs);
  }

  /**
   * Deletes whole closed segments that fall outside the retention limits (never the active one)
   * and raises the log start offset. The new log start is checkpointed before any file is
   * removed. Runs on a timer and after every roll; resolves the number of segments deleted.
   */
  enforceRetention(): Promise<number> {
    return this.#retention.enforce();
  }

  /**
   * Stops accepting appends, finishes the queued ones, syncs, writes the index files and the
   * recovery checkpoint (so the next open skips validation), closes files and releases the lock.
   * Idempotent: later calls return the same promise. Rejects if the final sync or checkpoint
   * failed (resources are released anyway).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state.lifecycle = 'closing';
    for (const timer of this.#timers) {
      clearInterval(timer);
    }
    // Let already-accepted appends finish; bounded because no new appends are accepted.
    await this.#writer.drain();
    await this.#retention.idle();
    let closeError: unknown;
    try {
      await this.#writer.finish();
    } catch (error) {
      closeError = error;
    }
    // From here reads are refused; reads already running hold a segment reference until done.
    this.#state.lifecycle = 'closed';
    const fileSystem = this.#state.options.fileSystem;
    for (const segment of this.#state.segments) {
      await segment.close(fileSystem).catch(() => {});
    }
    this.#state.listeners.clear();
    await this.#lock.release();
    if (closeError !== undefined) {
      throw closeError;
    }
  }
}

export type { FsyncPolicy, PartitionOptions } from './partition-options.ts';
