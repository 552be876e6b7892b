/**
 * The writer of a partition: the one place that writes, syncs, rolls and checkpoints, so nothing
 * inside the process needs a lock. Appends are queued; a flush loop started after the current
 * synchronous burst writes as many as fit into one writev (group commit, append-group.ts; stored
 * as merged batches, batch-merge.ts) at the end of the active segment. Under `'always'` a written
 * group waits for an fdatasync that started after its write completed, and the next group is
 * written while that sync runs (pipelined group commit); at most one sync runs at a time. The
 * other policies acknowledge once the kernel has the bytes.
 *
 * How the writer keeps the fault model of partition.ts:
 * - Nothing is acknowledged before it is durable under the policy, and the high watermark moves
 *   only with the durability point, so readers never see data a crash may take back.
 * - After any failed write, sync, roll or checkpoint it records a `LOG_READ_ONLY` failure and
 *   rejects every append not yet acknowledged; it never retries a sync (the page cache can no
 *   longer be trusted).
 * - A segment is synced before it is rolled, so recovery may treat a bad batch in a rolled segment
 *   as corruption rather than a torn write.
 */

import {
  type AppendWaiter,
  groupCount,
  type PendingAppend,
  settleAppend,
  shouldRoll,
} from './append-group.ts';
import { checkQueueRoom, encodeAppend, validateClientBatch } from './append-input.ts';
import { sealGroup } from './batch-merge.ts';
import { int64NumberAt } from './big-endian.ts';
import { CheckpointScheduler } from './checkpoint-scheduler.ts';
import { ioError, LogError } from './errors.ts';
import { writeFully } from './file-system.ts';
import type { ResolvedPartitionOptions } from './partition-options.ts';
import type { PartitionState } from './partition-state.ts';
import { BATCH_FIELD, type RecordInput, writeInt64 } from './record-batch.ts';
import { createSegment } from './recovery.ts';
import type { Segment } from './segment.ts';

/** Offsets assigned to an acknowledged append. */
export interface AppendResult {
  /** Offset of the batch's first record. */
  readonly baseOffset: bigint;
  /** Offset of the batch's last record. */
  readonly lastOffset: bigint;
}

/** Most rounds {@link PartitionWriter.drain} waits for the queue to empty (no appends are accepted meanwhile). */
const DRAIN_ROUNDS_MAX = 1000;

/** The writer of one partition. Create one per {@link PartitionState}. */
export class PartitionWriter {
  readonly #state: PartitionState;
  readonly #options: ResolvedPartitionOptions;
  /** Called after every roll (the front enforces retention then). */
  readonly #onRolled: () => void;
  #nextOffset: bigint;
  // Recovery point: everything below #syncedOffset is fdatasynced; #syncedPosition is its byte
  // position in the active segment.
  #syncedOffset: bigint;
  #syncedPosition: number;
  #pending: PendingAppend[] = [];
  // Under 'always': appends already written to the active segment, in offset order, waiting for
  // a sync that started after their write completed (see #startSync).
  #written: PendingAppend[] = [];
  // The fdatasync in flight. At most one runs at a time: a sync error may be reported to only one
  // of two concurrent syncs on a file, so overlapping them could acknowledge lost data.
  #syncing: Promise<void> | undefined;
  #queuedBytes = 0;
  #queuedCount = 0;
  #flushing: Promise<void> | undefined;
  #flushScheduled = false;
  #syncRequested = false;
  readonly #checkpoints: CheckpointScheduler;

  constructor(state: PartitionState, onRolled: () => void, checkpointDue: boolean) {
    this.#state = state;
    this.#options = state.options;
    this.#onRolled = onRolled;
    const active = state.activeSegment;
    this.#nextOffset = active.nextOffset;
    this.#syncedOffset = active.nextOffset;
    this.#syncedPosition = active.sizeBytes;
    this.#checkpoints = new CheckpointScheduler({
      fileSystem: this.#options.fileSystem,
      directory: state.directory,
      checkpointIntervalMs: this.#options.checkpointIntervalMs,
      clock: this.#options.clock,
      current: () => ({
        logStartOffset: state.logStartOffset,
        recoveryPoint: this.#syncedOffset,
        recoveryPointPosition: this.#syncedPosition,
      }),
      onFailure: (error) => this.fail(error),
      dueAtOnce: checkpointDue, // Recovery synced past the stored checkpoint (recovery.ts).
    });
  }

  /** Offset the next accepted append will get (appends queued but not yet durable count). */
  get nextOffset(): bigint {
    return this.#nextOffset;
  }

  /** See `Partition.append`. */
  append(records: readonly RecordInput[]): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      try {
        this.#encodeAndEnqueue(records, undefined, resolve, reject);
      } catch (error) {
        reject(error);
      }
    });
  }

  /** See `Partition.appendTo`: {@link append} without a promise; refusals reach `waiter` at once. */
  appendTo(records: readonly RecordInput[], waiter: AppendWaiter): void {
    try {
      this.#encodeAndEnqueue(records, waiter, undefined, undefined);
    } catch (error) {
      waiter.failed(error);
    }
  }

  /** Settled through `waiter`, else `resolve`/`reject` (a promise's, not wrapped: an object less). */
  #encodeAndEnqueue(
    records: readonly RecordInput[],
    waiter: AppendWaiter | undefined,
    resolve: PendingAppend['resolve'],
    reject: PendingAppend['reject'],
  ): void {
    const refusal = this.#appendRefusal();
    if (refusal !== undefined) throw refusal;
    const bytes = encodeAppend(records, this.#options);
    const timestampMsMax = int64NumberAt(bytes, BATCH_FIELD.maxTimestamp);
    this.#enqueue(bytes, records.length, timestampMsMax, false, waiter, resolve, reject);
  }

  /** See `Partition.appendBatch`. */
  appendBatch(batch: Uint8Array): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      try {
        const refusal = this.#appendRefusal();
        if (refusal !== undefined) throw refusal;
        const { recordsCount, timestampMsMax } = validateClientBatch(batch, this.#options);
        this.#enqueue(Buffer.from(batch), recordsCount, timestampMsMax, true, undefined, resolve, reject);
      } catch (error) {
        reject(error);
      }
    });
  }

  /** Asks the flush loop to sync everything written so far (the `{ intervalMs }` timer). */
  requestSync(): void {
    this.#syncRequested = true;
    this.#kick();
  }

  #appendRefusal(): LogError | undefined {
    if (this.#state.lifecycle !== 'open') {
      return new LogError(
        'LOG_CLOSED',
        `partition ${this.#state.directory} is closed; reopen it with openPartition()`,
      );
    }
    return this.#state.failure ?? this.#state.corruption;
  }

  /** Queues the append; throws `LOG_BATCH_TOO_LARGE` or `LOG_QUEUE_FULL` (nothing queued then). */
  #enqueue(
    bytes: Buffer,
    recordCount: number,
    timestampMsMax: number,
    sealed: boolean,
    waiter: AppendWaiter | undefined,
    resolve: PendingAppend['resolve'],
    reject: PendingAppend['reject'],
  ): void {
    checkQueueRoom(bytes.length, this.#queuedCount, this.#queuedBytes, this.#options, this.#state.directory);
    const baseOffset = this.#nextOffset;
    this.#nextOffset = baseOffset + BigInt(recordCount);
    writeInt64(bytes, BATCH_FIELD.baseOffset, baseOffset);
    bytes.writeInt32BE(this.#options.leaderEpoch, BATCH_FIELD.partitionLeaderEpoch);
    this.#queuedCount++;
    this.#queuedBytes += bytes.length;
    this.#pending.push({ bytes, baseOffset, recordCount, timestampMsMax, sealed, waiter, resolve, reject });
    this.#kick();
  }

  /** Starts the flush loop after the current synchronous burst of appends (group commit). */
  #kick(): void {
    if (this.#flushing !== undefined || this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      if (this.#flushing === undefined) {
        this.#flushing = this.#runFlush();
      }
    });
  }

  async #runFlush(): Promise<void> {
    try {
      await this.#flushLoop();
    } catch (error) {
      this.fail(
        error instanceof LogError ? error : ioError(`unexpected failure in ${this.#state.directory}`, error),
      );
    } finally {
      this.#flushing = undefined;
    }
    if (this.#pending.length > 0 || (this.#syncRequested && this.#state.failure === undefined)) {
      this.#kick();
    }
  }

  async #flushLoop(): Promise<void> {
    // Each round writes at least one append, rolls once, or syncs once; the bound stops a
    // runaway loop, and #runFlush restarts it if work remains.
    const roundsMax = 2 * this.#options.appendQueueCountMax + 4;
    for (let round = 0; round < roundsMax; round++) {
      if (this.#state.failure !== undefined) {
        this.#rejectPending(this.#state.failure);
        return;
      }
      if (this.#syncRequested) {
        this.#syncRequested = false;
        await this.#syncAll();
        continue;
      }
      const first = this.#pending[0];
      if (first === undefined) return;
      const active = this.#state.activeSegment;
      if (shouldRoll(active, first, this.#options)) {
        await this.#roll();
        continue;
      }
      await this.#writeGroup(active, this.#takeGroup(active));
    }
  }

  #takeGroup(active: Segment): PendingAppend[] {
    const pending = this.#pending;
    const count = groupCount(pending, active, this.#options.segmentBytesMax);
    if (count === pending.length) {
      this.#pending = [];
      return pending;
    }
    return pending.splice(0, count);
  }

  /**
   * Writes `group` at the end of `active`. Under `'always'` the group then waits for a sync (which
   * may run while the writer already writes the next group); under the other policies it is
   * acknowledged once the kernel has the bytes.
   */
  async #writeGroup(active: Segment, group: PendingAppend[]): Promise<void> {
    const { buffers, batches } = sealGroup(active, group, this.#options.batchBytesMax);
    let position = active.sizeBytes;
    if (position === 0) active.ageStartMs = this.#options.clock();
    try {
      await writeFully(this.#options.fileSystem, active.fd, buffers, position);
    } catch (error) {
      this.#failGroup(group, ioError(`cannot append to ${active.logPath}`, error));
      return;
    }
    if (this.#state.failure !== undefined) {
      // A sync failed while this group was being written; nothing is acknowledged after that.
      this.#settle(group, this.#state.failure);
      return;
    }
    for (let index = 0; index < batches.length; index++) {
      const batch = batches[index]!;
      active.noteBatch(
        position,
        batch.bytes.length,
        batch.baseOffset,
        batch.recordCount,
        batch.timestampMsMax,
      );
      position += batch.bytes.length;
    }
    const policy = this.#options.fsync;
    if (policy === 'always') {
      for (let index = 0; index < group.length; index++) {
        this.#written.push(group[index]!);
      }
      this.#startSync();
      return;
    }
    this.#settle(group);
    if (policy === 'never') {
      active.readableBytes = active.sizeBytes;
      this.#state.advanceHighWatermark(active.nextOffset);
    }
    this.#checkpoints.requestSoon();
  }

  /**
   * Starts an fdatasync of everything written to the active segment so far, unless one is
   * running: that one calls this again when it finishes, so writes completed meanwhile get the
   * next sync. A sync acknowledges only the appends whose write completed before it started
   * (counted here), because a write racing a sync may or may not be covered by it.
   */
  #startSync(): void {
    const segment = this.#state.activeSegment;
    if (
      this.#syncing !== undefined ||
      this.#state.failure !== undefined ||
      segment.nextOffset === this.#syncedOffset
    ) {
      return;
    }
    this.#syncing = this.#syncThrough(segment, segment.nextOffset, segment.sizeBytes, this.#written.length);
  }

  async #syncThrough(segment: Segment, offset: bigint, position: number, appendCount: number): Promise<void> {
    let failed = false;
    let cause: unknown;
    try {
      await this.#options.fileSystem.fdatasync(segment.fd);
    } catch (error) {
      failed = true;
      cause = error;
    }
    this.#syncing = undefined;
    if (failed) {
      this.#failGroup(this.#takeWritten(appendCount), ioError(`cannot fdatasync ${segment.logPath}`, cause));
      return;
    }
    if (this.#state.failure !== undefined) {
      return; // a write failed meanwhile and already rejected these appends
    }
    this.#markSynced(segment, offset, position);
    this.#settle(this.#takeWritten(appendCount));
    this.#checkpoints.requestSoon();
    this.#startSync();
  }

  /** Removes and returns the first `count` written appends. */
  #takeWritten(count: number): PendingAppend[] {
    const written = this.#written;
    if (count >= written.length) {
      this.#written = [];
      return written;
    }
    return written.splice(0, count);
  }

  /**
   * Waits for the running sync (and the one it chains), then syncs whatever the active segment
   * still holds unsynced. Only the writer (for rolls and `{ intervalMs }`) calls this, so no
   * write extends the segment meanwhile; a failure is recorded in the state's `failure`.
   */
  async #syncAll(): Promise<void> {
    // Bounded: with the writer paused, the running sync chains at most one more.
    for (let round = 0; round < 3 && this.#syncing !== undefined; round++) {
      await this.#syncing;
    }
    this.#startSync();
    await this.#syncing;
  }

  /** Everything in `segment` (the active one) up to `offset` / `position` is durable: publish it. */
  #markSynced(segment: Segment, offset: bigint, position: number): void {
    segment.readableBytes = position;
    this.#syncedOffset = offset;
    this.#syncedPosition = position;
    this.#state.advanceHighWatermark(offset);
  }

  async #roll(): Promise<void> {
    const old = this.#state.activeSegment;
    const fileSystem = this.#options.fileSystem;
    let created: Segment;
    // Every policy syncs a segment before rolling: recovery relies on rolled segments being
    // durable to tell corruption from torn writes.
    await this.#syncAll();
    if (this.#state.failure !== undefined) {
      return;
    }
    try {
      await old.writeIndexFiles(fileSystem);
      created = await createSegment(
        fileSystem,
        this.#state.directory,
        old.nextOffset,
        this.#options.indexIntervalBytes,
        this.#options.clock(),
      );
    } catch (error) {
      this.fail(error instanceof LogError ? error : ioError(`cannot roll segment ${old.logPath}`, error));
      return;
    }
    this.#state.segments.push(created);
    this.#syncedOffset = created.baseOffset;
    this.#syncedPosition = 0;
    this.requestCheckpoint().catch(() => {});
    this.#onRolled();
  }

  /**
   * Writes the checkpoint (log start offset and recovery point) with the state current when the
   * write starts; see checkpoint-scheduler.ts. A failure makes the partition read-only and rejects.
   */
  requestCheckpoint(): Promise<void> {
    return this.#checkpoints.request();
  }

  /**
   * Waits until every append accepted before closing began is settled. Bounded because the front
   * accepts no new appends once it is closing.
   */
  async drain(): Promise<void> {
    for (
      let round = 0;
      round < DRAIN_ROUNDS_MAX &&
      (this.#flushScheduled ||
        this.#flushing !== undefined ||
        this.#syncing !== undefined ||
        this.#pending.length > 0);
      round++
    ) {
      if (this.#flushing === undefined && !this.#flushScheduled) {
        this.#kick();
      }
      await (this.#flushing ?? this.#syncing ?? new Promise<void>((resolve) => setImmediate(resolve)));
    }
  }

  /**
   * The last step of a clean close, after {@link drain}: syncs what is left, writes the active
   * segment's index files and the checkpoint (so the next open skips validation), and waits for
   * every checkpoint write. Skipped (but still waited for) once the partition failed. Rejects with
   * the first error.
   */
  async finish(): Promise<void> {
    let closeError: unknown;
    const fileSystem = this.#options.fileSystem;
    const active = this.#state.activeSegment;
    if (this.#state.failure === undefined && this.#state.corruption === undefined) {
      try {
        if (this.#syncedOffset !== active.nextOffset) {
          await fileSystem.fdatasync(active.fd);
          this.#markSynced(active, active.nextOffset, active.sizeBytes);
        }
        await active.writeIndexFiles(fileSystem);
        await this.requestCheckpoint();
      } catch (error) {
        closeError =
          error instanceof LogError ? error : ioError(`cannot close ${this.#state.directory} cleanly`, error);
      }
    }
    await this.#checkpoints.idle();
    if (closeError !== undefined) {
      throw closeError;
    }
  }

  /** Rejects `group` with `error` itself (the cause) and everything else waiting as read-only. */
  #failGroup(group: readonly PendingAppend[], error: LogError): void {
    this.fail(error);
    this.#settle(group, error);
    this.#rejectPending(this.#state.failure!);
  }

  /**
   * Makes the partition read-only because of `cause` (the first cause wins) and rejects every
   * append not yet acknowledged.
   */
  fail(cause: LogError): void {
    if (this.#state.failure !== undefined) {
      return;
    }
    this.#state.failure = new LogError(
      'LOG_READ_ONLY',
      `partition ${this.#state.directory} is read-only after a failed write or sync (${cause.message}); appends are refused, reads see only data synced before the failure; fix the disk and reopen the partition (reopening revalidates the tail)`,
      { cause },
    );
    this.#rejectPending(this.#state.failure);
  }

  /** Rejects every append not yet acknowledged: written ones first, then queued ones. */
  #rejectPending(error: LogError): void {
    const written = this.#written;
    const pending = this.#pending;
    this.#written = [];
    this.#pending = [];
    this.#settle(written, error);
    this.#settle(pending, error);
  }

  /** Resolves `appends` (durable under the policy) or rejects them with `error`; frees their queue room. */
  #settle(appends: readonly PendingAppend[], error?: LogError): void {
    for (let index = 0; index < appends.length; index++) {
      const append = appends[index]!;
      this.#queuedCount--;
      this.#queuedBytes -= append.bytes.length;
      settleAppend(append, error);
    }
  }
}
