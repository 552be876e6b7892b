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
 * Not defended: a file system that acknowledges fdatasync without persisting (disable volatile
 * write caches), and corruption of the directory structure itself.
 */

import { acquireDirectoryLock, type DirectoryLock } from './directory-lock.ts';
import { invariant, ioError, LogError } from './errors.ts';
import { writeFully } from './file-system.ts';
import { writePartitionCheckpoint } from './partition-checkpoint.ts';
import {
  type PartitionOptions,
  type ResolvedPartitionOptions,
  resolvePartitionOptions,
} from './partition-options.ts';
import {
  BATCH_FIELD,
  decodeRecordBatchHeader,
  decodeRecordBatchRecords,
  encodeRecordBatch,
  findRecordBatchProblem,
  LOG_OVERHEAD_BYTES,
  type LogRecord,
  RECORD_BATCH_HEADER_BYTES,
  type RecordInput,
  readSafeInt64,
  recordBatchSize,
  writeInt64,
} from './record-batch.ts';
import { createSegment, type RecoveryReport, recoverPartition } from './recovery.ts';
import { SEGMENT_OFFSETS_LIMIT, type Segment } from './segment.ts';

/** Offsets assigned to an acknowledged append. */
export interface AppendResult {
  /** Offset of the batch's first record. */
  readonly baseOffset: bigint;
  /** Offset of the batch's last record. */
  readonly lastOffset: bigint;
}

/** Whole stored batches returned by {@link Partition.read}. */
export interface ReadResult {
  /** Complete RecordBatch v2 batches back to back, CRC-checked; empty at the high watermark. */
  readonly batches: Uint8Array;
  /** Number of batches in `batches`. */
  readonly batchCount: number;
  /** Offset after the last returned batch: where the next read continues. */
  readonly nextOffset: bigint;
  /** Offset after the last durable record at the time of the read. */
  readonly highWatermark: bigint;
  /** First offset still stored. */
  readonly logStartOffset: bigint;
}

/** Decoded records returned by {@link Partition.readRecords}. */
export interface ReadRecordsResult {
  /** Records at or after the requested offset, in offset order. */
  readonly records: LogRecord[];
  /** Offset where the next read continues. */
  readonly nextOffset: bigint;
  /** Offset after the last durable record at the time of the read. */
  readonly highWatermark: bigint;
  /** First offset still stored. */
  readonly logStartOffset: bigint;
}

/** Result of {@link Partition.offsetForTimestamp}. */
export interface TimestampLookup {
  /** Offset of the first record whose timestamp is at or after the requested one. */
  readonly offset: bigint;
  /** That record's timestamp. */
  readonly timestampMs: number;
}

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
}

/** Called with the new high watermark whenever it advances. */
export type AppendListener = (highWatermark: bigint) => void;

interface PendingAppend {
  readonly bytes: Buffer;
  readonly baseOffset: bigint;
  readonly recordCount: number;
  readonly timestampMsMax: number;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
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
/** Bytes read per step while looking for the batch that holds an offset. */
const LOCATE_WINDOW_BYTES = 16 * 1024;
/** Most onAppend listeners; more means a leak in the caller. */
const LISTENERS_MAX = 100_000;

/** Bytes of key, value and headers of a caller's record (what `recordBytesMax` limits). */
function recordInputBytes(record: RecordInput | undefined): number {
  let size = (record?.key?.length ?? 0) + (record?.value?.length ?? 0);
  const headers = record?.headers;
  if (headers !== undefined) {
    for (let index = 0; index < headers.length; index++) {
      const header = headers[index]!;
      size += Buffer.byteLength(header[0]) + (header[1]?.length ?? 0);
    }
  }
  return size;
}

/**
 * Opens (creating if needed) the partition in `options.directory`: locks the directory, recovers
 * the log (see recovery.ts) and starts accepting appends. Throws `LOG_LOCKED`, `LOG_NOT_WRITABLE`,
 * `LOG_CORRUPT`, `LOG_DISK_FULL`, `LOG_IO` or `LOG_INVALID_ARGUMENT`.
 */
export async function openPartition(options: PartitionOptions): Promise<Partition> {
  const resolved = resolvePartitionOptions(options);
  const lock = await acquireDirectoryLock(resolved.directory, { fileSystem: resolved.fileSystem });
  try {
    const recovered = await recoverPartition(
      resolved.fileSystem,
      resolved.directory,
      resolved.indexIntervalBytes,
      resolved.clock(),
    );
    return new Partition(resolved, lock, recovered.segments, recovered.logStartOffset, recovered.report);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/** An open partition. Create with {@link openPartition}; close with {@link Partition.close}. */
export class Partition {
  /** What recovery found and repaired when the partition was opened. */
  readonly recoveryReport: RecoveryReport;
  readonly #options: ResolvedPartitionOptions;
  readonly #lock: DirectoryLock;
  readonly #segments: Segment[];
  readonly #listeners = new Set<AppendListener>();
  #logStartOffset: bigint;
  #nextOffset: bigint;
  #highWatermark: bigint;
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
  #failure: LogError | undefined;
  #corruption: LogError | undefined;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #closing: Promise<void> | undefined;
  #lastCheckpointAtMs: number;
  #checkpointTail: Promise<void> = Promise.resolve();
  #checkpointQueued: Promise<void> | undefined;
  #retentionRunning: Promise<number> | undefined;
  #retentionQueued: Promise<number> | undefined;
  #timers: NodeJS.Timeout[] = [];

  /** Internal: use {@link openPartition}. */
  constructor(
    options: ResolvedPartitionOptions,
    lock: DirectoryLock,
    segments: Segment[],
    logStartOffset: bigint,
    report: RecoveryReport,
  ) {
    invariant(segments.length > 0, 'a partition has an active segment');
    this.#options = options;
    this.#lock = lock;
    this.#segments = segments;
    this.recoveryReport = report;
    this.#logStartOffset = logStartOffset;
    const active = segments.at(-1)!;
    this.#nextOffset = active.nextOffset;
    this.#highWatermark = active.nextOffset;
    this.#syncedOffset = active.nextOffset;
    this.#syncedPosition = active.sizeBytes;
    this.#lastCheckpointAtMs = options.clock();
    if (options.syncIntervalMs !== undefined) {
      this.#timers.push(
        setInterval(() => {
          this.#syncRequested = true;
          this.#kick();
        }, options.syncIntervalMs).unref(),
      );
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
    return this.#options.directory;
  }

  /** Offset after the last durable record: readers see offsets below it. */
  get highWatermark(): bigint {
    return this.#highWatermark;
  }

  /** First offset still stored (raised by retention). */
  get logStartOffset(): bigint {
    return this.#logStartOffset;
  }

  /** Offset the next accepted append will get (appends queued but not yet durable count). */
  get nextOffset(): bigint {
    return this.#nextOffset;
  }

  /** Set once a write or sync failed: the partition is read-only and this is why. */
  get failure(): LogError | undefined {
    return this.#failure ?? this.#corruption;
  }

  /** The segments in offset order, the last one active. */
  describeSegments(): SegmentDescription[] {
    return this.#segments.map((segment) => ({
      baseOffset: segment.baseOffset,
      nextOffset: segment.nextOffset,
      sizeBytes: segment.sizeBytes,
      logPath: segment.logPath,
    }));
  }

  /**
   * Appends `records` as one batch. Resolves once the batch is durable under the fsync policy;
   * rejects with `LOG_RECORD_TOO_LARGE`, `LOG_BATCH_TOO_LARGE`, `LOG_INVALID_BATCH`,
   * `LOG_QUEUE_FULL` (retriable), `LOG_READ_ONLY`, `LOG_IO`, `LOG_DISK_FULL`, `LOG_CORRUPT` or
   * `LOG_CLOSED`.
   */
  append(records: readonly RecordInput[]): Promise<AppendResult> {
    const refusal = this.#appendRefusal();
    if (refusal !== undefined) {
      return Promise.reject(refusal);
    }
    if (!Array.isArray(records) || records.length === 0) {
      return Promise.reject(
        new LogError(
          'LOG_INVALID_BATCH',
          'append needs a non-empty array of records; pass at least one record',
        ),
      );
    }
    const recordBytesMax = this.#options.recordBytesMax;
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      if (recordInputBytes(record) > recordBytesMax) {
        return Promise.reject(
          new LogError(
            'LOG_RECORD_TOO_LARGE',
            `record ${index} has ${recordInputBytes(record)} bytes of key, value and headers, above recordBytesMax ${recordBytesMax}; split the payload or raise recordBytesMax`,
          ),
        );
      }
    }
    let bytes: Buffer;
    try {
      bytes = encodeRecordBatch(records, {
        partitionLeaderEpoch: this.#options.leaderEpoch,
        timestampMs: this.#options.clock(),
      });
    } catch (error) {
      return Promise.reject(error);
    }
    const timestampMsMax = readSafeInt64(bytes, BATCH_FIELD.maxTimestamp);
    return this.#enqueue(bytes, records.length, timestampMsMax);
  }

  /**
   * Appends one raw client-encoded RecordBatch v2 (e.g. from a Kafka Produce request). Validates
   * length, magic, CRC-32C, the record count against LastOffsetDelta, and (when the codec is
   * registered) every record; then stores a copy with BaseOffset and PartitionLeaderEpoch
   * rewritten. Both fields lie outside the CRC range, so the client's CRC stays valid. Resolves
   * like {@link Partition.append}.
   */
  appendBatch(batch: Uint8Array): Promise<AppendResult> {
    const refusal = this.#appendRefusal();
    if (refusal !== undefined) {
      return Promise.reject(refusal);
    }
    let header: ReturnType<typeof decodeRecordBatchHeader>;
    try {
      header = this.#validateClientBatch(batch);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(Buffer.from(batch), header.recordsCount, header.timestampMsMax);
  }

  #validateClientBatch(batch: Uint8Array): ReturnType<typeof decodeRecordBatchHeader> {
    if (!(batch instanceof Uint8Array)) {
      throw new LogError('LOG_INVALID_ARGUMENT', 'appendBatch needs a Uint8Array holding one RecordBatch v2');
    }
    if (batch.length > this.#options.batchBytesMax) {
      throw new LogError(
        'LOG_BATCH_TOO_LARGE',
        `batch of ${batch.length} bytes is above batchBytesMax ${this.#options.batchBytesMax}; send smaller batches or raise batchBytesMax`,
      );
    }
    if (batch.length < RECORD_BATCH_HEADER_BYTES || recordBatchSize(batch) !== batch.length) {
      throw new LogError(
        'LOG_INVALID_BATCH',
        `appendBatch got ${batch.length} bytes that are not exactly one RecordBatch v2 (its length field disagrees); pass one whole batch per call`,
      );
    }
    const problem = findRecordBatchProblem(batch);
    if (problem !== undefined) {
      throw new LogError(
        'LOG_INVALID_BATCH',
        `invalid record batch: ${problem}; the producer must resend a valid batch`,
      );
    }
    const header = decodeRecordBatchHeader(batch);
    if (header.compression === 0 || header.compression === 1 || header.compression === 4) {
      const records = decodeRecordBatchRecords(batch, 0, {
        decompressedBytesMax: this.#options.decompressedBytesMax,
      });
      for (let index = 0; index < records.length; index++) {
        const record = records[index]!;
        if (record.offset - header.baseOffset !== BigInt(index)) {
          throw new LogError(
            'LOG_INVALID_BATCH',
            `record ${index} has offset delta ${record.offset - header.baseOffset}, expected ${index}; offsets in a batch must be dense`,
          );
        }
        let size = (record.key?.length ?? 0) + (record.value?.length ?? 0);
        for (const [key, value] of record.headers) {
          size += Buffer.byteLength(key) + (value?.length ?? 0);
        }
        if (size > this.#options.recordBytesMax) {
          throw new LogError(
            'LOG_RECORD_TOO_LARGE',
            `record ${index} has ${size} bytes, above recordBytesMax ${this.#options.recordBytesMax}; split the payload or raise recordBytesMax`,
          );
        }
      }
    }
    return header;
  }

  #appendRefusal(): LogError | undefined {
    if (this.#state !== 'open') {
      return new LogError(
        'LOG_CLOSED',
        `partition ${this.directory} is closed; reopen it with openPartition()`,
      );
    }
    return this.#failure ?? this.#corruption;
  }

  #enqueue(bytes: Buffer, recordCount: number, timestampMsMax: number): Promise<AppendResult> {
    if (bytes.length > this.#options.batchBytesMax) {
      return Promise.reject(
        new LogError(
          'LOG_BATCH_TOO_LARGE',
          `batch of ${bytes.length} bytes is above batchBytesMax ${this.#options.batchBytesMax}; append fewer records per call or raise batchBytesMax`,
        ),
      );
    }
    if (
      this.#queuedCount >= this.#options.appendQueueCountMax ||
      this.#queuedBytes + bytes.length > this.#options.appendQueueBytesMax
    ) {
      return Promise.reject(
        new LogError(
          'LOG_QUEUE_FULL',
          `append queue of ${this.directory} is full (${this.#queuedCount} appends, ${this.#queuedBytes} bytes waiting for the disk); retry after pending appends complete`,
          { retriable: true },
        ),
      );
    }
    const baseOffset = this.#nextOffset;
    this.#nextOffset = baseOffset + BigInt(recordCount);
    writeInt64(bytes, BATCH_FIELD.baseOffset, baseOffset);
    bytes.writeInt32BE(this.#options.leaderEpoch, BATCH_FIELD.partitionLeaderEpoch);
    this.#queuedCount++;
    this.#queuedBytes += bytes.length;
    return new Promise<AppendResult>((resolve, reject) => {
      this.#pending.push({ bytes, baseOffset, recordCount, timestampMsMax, resolve, reject });
      this.#kick();
    });
  }

  /** Starts the flush loop after the current synchronous burst of appends (group commit). */
  #kick(): void {
    if (this.#flushing !== undefined || this.#flushScheduled) {
      return;
    }
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
      this.#fail(
        error instanceof LogError ? error : ioError(`unexpected failure in ${this.directory}`, error),
      );
    } finally {
      this.#flushing = undefined;
    }
    if (this.#pending.length > 0 || (this.#syncRequested && this.#failure === undefined)) {
      this.#kick();
    }
  }

  async #flushLoop(): Promise<void> {
    // Each round writes at least one append, rolls once, or syncs once; the bound stops a
    // runaway loop, and #runFlush restarts it if work remains.
    const roundsMax = 2 * this.#options.appendQueueCountMax + 4;
    for (let round = 0; round < roundsMax; round++) {
      if (this.#failure !== undefined) {
        this.#rejectPending(this.#failure);
        return;
      }
      if (this.#syncRequested) {
        this.#syncRequested = false;
        await this.#syncAll();
        continue;
      }
      const first = this.#pending[0];
      if (first === undefined) {
        return;
      }
      const active = this.#segments.at(-1)!;
      if (this.#shouldRoll(active, first)) {
        await this.#roll();
        continue;
      }
      await this.#writeGroup(active, this.#takeGroup(active));
    }
  }

  #shouldRoll(active: Segment, next: PendingAppend): boolean {
    if (active.sizeBytes === 0) {
      return false;
    }
    return (
      active.sizeBytes + next.bytes.length > this.#options.segmentBytesMax ||
      this.#options.clock() - active.ageStartMs >= this.#options.segmentAgeMsMax ||
      Number(next.baseOffset - active.baseOffset) + next.recordCount > SEGMENT_OFFSETS_LIMIT
    );
  }

  #takeGroup(active: Segment): PendingAppend[] {
    const pending = this.#pending;
    const room = this.#options.segmentBytesMax - active.sizeBytes;
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
    if (count === pending.length) {
      this.#pending = [];
      return pending;
    }
    return pending.splice(0, count);
  }

  /** Buffers of `group` in order, after checking that they continue `active` densely. */
  #groupBuffers(active: Segment, group: readonly PendingAppend[]): Buffer[] {
    let expected = active.nextOffset;
    const buffers: Buffer[] = new Array(group.length);
    for (let index = 0; index < group.length; index++) {
      const append = group[index]!;
      invariant(append.baseOffset === expected, 'appends are written in dense offset order');
      expected = append.baseOffset + BigInt(append.recordCount);
      buffers[index] = append.bytes;
    }
    return buffers;
  }

  /**
   * Writes `group` at the end of `active`. Under `'always'` the group then waits for a sync (which
   * may run while the writer already writes the next group); under the other policies it is
   * acknowledged once the kernel has the bytes.
   */
  async #writeGroup(active: Segment, group: PendingAppend[]): Promise<void> {
    const buffers = this.#groupBuffers(active, group);
    let position = active.sizeBytes;
    if (position === 0) {
      active.ageStartMs = this.#options.clock();
    }
    try {
      await writeFully(this.#options.fileSystem, active.fd, buffers, position);
    } catch (error) {
      this.#failGroup(group, ioError(`cannot append to ${active.logPath}`, error));
      return;
    }
    if (this.#failure !== undefined) {
      // A sync failed while this group was being written; nothing is acknowledged after that.
      this.#settle(group, this.#failure);
      return;
    }
    for (let index = 0; index < group.length; index++) {
      const append = group[index]!;
      active.noteBatch(
        position,
        append.bytes.length,
        append.baseOffset,
        append.recordCount,
        append.timestampMsMax,
      );
      position += append.bytes.length;
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
      this.#advanceHighWatermark(active.nextOffset);
    }
    this.#maybeCheckpoint();
  }

  /**
   * Starts an fdatasync of everything written to the active segment so far, unless one is
   * running: that one calls this again when it finishes, so writes completed meanwhile get the
   * next sync. A sync acknowledges only the appends whose write completed before it started
   * (counted here), because a write racing a sync may or may not be covered by it.
   */
  #startSync(): void {
    const segment = this.#segments.at(-1)!;
    if (
      this.#syncing !== undefined ||
      this.#failure !== undefined ||
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
    if (this.#failure !== undefined) {
      return; // a write failed meanwhile and already rejected these appends
    }
    this.#markSynced(segment, offset, position);
    this.#settle(this.#takeWritten(appendCount));
    this.#maybeCheckpoint();
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
   * write extends the segment meanwhile; a failure is recorded in #failure.
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
    this.#advanceHighWatermark(offset);
  }

  #advanceHighWatermark(offset: bigint): void {
    if (offset <= this.#highWatermark) {
      return;
    }
    this.#highWatermark = offset;
    for (const listener of this.#listeners) {
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

  async #roll(): Promise<void> {
    const old = this.#segments.at(-1)!;
    const fileSystem = this.#options.fileSystem;
    let created: Segment;
    // Every policy syncs a segment before rolling: recovery relies on rolled segments being
    // durable to tell corruption from torn writes.
    await this.#syncAll();
    if (this.#failure !== undefined) {
      return;
    }
    try {
      await old.writeIndexFiles(fileSystem);
      created = await createSegment(
        fileSystem,
        this.directory,
        old.nextOffset,
        this.#options.indexIntervalBytes,
        this.#options.clock(),
      );
    } catch (error) {
      this.#fail(error instanceof LogError ? error : ioError(`cannot roll segment ${old.logPath}`, error));
      return;
    }
    this.#segments.push(created);
    this.#syncedOffset = created.baseOffset;
    this.#syncedPosition = 0;
    this.#requestCheckpoint().catch(() => {});
    this.enforceRetention().catch(() => {});
  }

  #maybeCheckpoint(): void {
    const nowMs = this.#options.clock();
    if (nowMs - this.#lastCheckpointAtMs >= this.#options.checkpointIntervalMs) {
      this.#lastCheckpointAtMs = nowMs;
      this.#requestCheckpoint().catch(() => {});
    }
  }

  /**
   * Writes the checkpoint with the state current when the write starts. Requests made while one
   * is waiting to start share it; at most one write runs at a time. A failure makes the partition
   * read-only (the disk is misbehaving) and rejects.
   */
  #requestCheckpoint(): Promise<void> {
    if (this.#checkpointQueued !== undefined) {
      return this.#checkpointQueued;
    }
    const next = this.#checkpointTail.then(async () => {
      this.#checkpointQueued = undefined;
      try {
        await writePartitionCheckpoint(this.#options.fileSystem, this.directory, {
          logStartOffset: this.#logStartOffset,
          recoveryPoint: this.#syncedOffset,
          recoveryPointPosition: this.#syncedPosition,
        });
      } catch (error) {
        this.#fail(error instanceof LogError ? error : ioError(`cannot checkpoint ${this.directory}`, error));
        throw error;
      }
    });
    this.#checkpointQueued = next;
    this.#checkpointTail = next.catch(() => {});
    return next;
  }

  /** Rejects `group` with `error` itself (the cause) and everything else waiting as read-only. */
  #failGroup(group: readonly PendingAppend[], error: LogError): void {
    this.#fail(error);
    this.#settle(group, error);
    this.#rejectPending(this.#failure!);
  }

  #fail(cause: LogError): void {
    if (this.#failure !== undefined) {
      return;
    }
    this.#failure = new LogError(
      'LOG_READ_ONLY',
      `partition ${this.directory} is read-only after a failed write or sync (${cause.message}); appends are refused, reads see only data synced before the failure; fix the disk and reopen the partition (reopening revalidates the tail)`,
      { cause },
    );
    this.#rejectPending(this.#failure);
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
      if (error === undefined) {
        append.resolve({
          baseOffset: append.baseOffset,
          lastOffset:
            append.recordCount === 1 ? append.baseOffset : append.baseOffset + BigInt(append.recordCount - 1),
        });
      } else {
        append.reject(error);
      }
    }
  }

  /**
   * Registers `listener` to be called with the new high watermark each time it advances, so a
   * broker can wake waiting consumers without polling. Returns a function that unregisters it.
   */
  onAppend(listener: AppendListener): () => void {
    invariant(typeof listener === 'function', 'onAppend takes a function');
    if (this.#listeners.size >= LISTENERS_MAX) {
      throw new LogError(
        'LOG_INVALID_ARGUMENT',
        `partition ${this.directory} already has ${LISTENERS_MAX} append listeners; unsubscribe listeners that are no longer needed`,
      );
    }
    const entry: AppendListener = (offset) => listener(offset);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  #readRefusal(): LogError | undefined {
    if (this.#state === 'closed') {
      return new LogError(
        'LOG_CLOSED',
        `partition ${this.directory} is closed; reopen it with openPartition()`,
      );
    }
    return this.#corruption;
  }

  #segmentFor(offset: bigint): Segment {
    const segments = this.#segments;
    let low = 0;
    let high = segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (segments[middle]!.baseOffset <= offset) {
        low = middle;
      } else {
        high = middle - 1;
      }
    }
    return segments[low]!;
  }

  #outOfRange(offset: bigint): LogError {
    return new LogError(
      'LOG_OFFSET_OUT_OF_RANGE',
      `offset ${offset} is outside ${this.directory}, which holds offsets ${this.#logStartOffset} to ${this.#highWatermark} (exclusive); read from logStartOffset or the high watermark instead`,
    );
  }

  #corrupt(segment: Segment, position: number, offset: bigint, reason: string): LogError {
    this.#corruption ??= new LogError(
      'LOG_CORRUPT',
      `log corrupt in ${segment.logPath} at byte ${position} (offset ${offset}): ${reason}; the partition is no longer served; restore it from a replica or backup, or move the damaged segment away to accept the loss`,
    );
    return this.#corruption;
  }

  /**
   * Reads whole stored batches starting with the one that contains `offset`, up to `bytesMax`
   * bytes but always at least one batch (so a consumer can progress past a large batch). Only
   * durable data is returned, from one segment per call; every batch is CRC-checked first.
   * `offset` equal to the high watermark returns no batches; outside
   * [logStartOffset, highWatermark] throws `LOG_OFFSET_OUT_OF_RANGE`.
   */
  async read(offset: bigint, bytesMax: number): Promise<ReadResult> {
    const refusal = this.#readRefusal();
    if (refusal !== undefined) {
      throw refusal;
    }
    if (typeof offset !== 'bigint' || !Number.isSafeInteger(bytesMax) || bytesMax < 1) {
      throw new LogError(
        'LOG_INVALID_ARGUMENT',
        'read takes a bigint offset and a positive integer bytesMax',
      );
    }
    const highWatermark = this.#highWatermark;
    const logStartOffset = this.#logStartOffset;
    if (offset < logStartOffset || offset > highWatermark) {
      throw this.#outOfRange(offset);
    }
    if (offset === highWatermark) {
      return { batches: new Uint8Array(0), batchCount: 0, nextOffset: offset, highWatermark, logStartOffset };
    }
    const segment = this.#segmentFor(offset);
    segment.acquireReader();
    try {
      return await this.#readSegment(segment, offset, bytesMax, highWatermark, logStartOffset);
    } finally {
      segment.releaseReader();
    }
  }

  async #readSegment(
    segment: Segment,
    offset: bigint,
    bytesMax: number,
    highWatermark: bigint,
    logStartOffset: bigint,
  ): Promise<ReadResult> {
    const fileSystem = this.#options.fileSystem;
    const limit = segment.readableBytes;
    const entry = segment.offsetIndex.floor(Number(offset - segment.baseOffset));
    let position = entry.position;
    let expected = segment.baseOffset + BigInt(entry.relativeOffset);
    let window: Buffer = Buffer.alloc(0);
    let windowStart = 0;
    let firstSize = 0;
    // Walk batch headers from the index entry to the batch that holds `offset`; each step skips a
    // whole batch of at least 61 bytes, which bounds the loop.
    const stepsMax = Math.ceil((limit - position) / RECORD_BATCH_HEADER_BYTES) + 1;
    for (let step = 0; ; step++) {
      if (step >= stepsMax || limit - position < RECORD_BATCH_HEADER_BYTES) {
        throw this.#corrupt(
          segment,
          position,
          expected,
          `offset ${offset} not found before the end of the durable data`,
        );
      }
      if (position < windowStart || position + RECORD_BATCH_HEADER_BYTES > windowStart + window.length) {
        window = await segment.read(fileSystem, position, Math.min(LOCATE_WINDOW_BYTES, limit - position));
        windowStart = position;
        if (window.length < RECORD_BATCH_HEADER_BYTES) {
          throw this.#corrupt(segment, position, expected, 'file shorter than its durable size');
        }
      }
      const at = position - windowStart;
      const baseOffset = window.readBigInt64BE(at + BATCH_FIELD.baseOffset);
      const size = window.readInt32BE(at + BATCH_FIELD.batchLength) + LOG_OVERHEAD_BYTES;
      const lastOffset = baseOffset + BigInt(window.readInt32BE(at + BATCH_FIELD.lastOffsetDelta));
      // Invariants right after reading: dense offsets and a length inside the durable bytes.
      if (baseOffset !== expected || size < RECORD_BATCH_HEADER_BYTES || size > limit - position) {
        throw this.#corrupt(
          segment,
          position,
          expected,
          `batch header is inconsistent (base offset ${baseOffset}, size ${size})`,
        );
      }
      if (lastOffset >= offset) {
        firstSize = size;
        break;
      }
      expected = lastOffset + 1n;
      position += size;
    }
    const length = Math.min(limit - position, Math.max(bytesMax, firstSize));
    const data =
      position >= windowStart && position + length <= windowStart + window.length
        ? window.subarray(position - windowStart, position - windowStart + length)
        : await segment.read(fileSystem, position, length);
    let at = 0;
    let batchCount = 0;
    while (at + LOG_OVERHEAD_BYTES <= data.length) {
      const size = data.readInt32BE(at + BATCH_FIELD.batchLength) + LOG_OVERHEAD_BYTES;
      if (batchCount > 0 && at + size > data.length) {
        break; // the next batch does not fit in bytesMax
      }
      const problem = findRecordBatchProblem(data, at, Math.min(data.length, at + size));
      const baseOffset = data.readBigInt64BE(at);
      if (problem !== undefined || baseOffset !== expected) {
        throw this.#corrupt(
          segment,
          position + at,
          expected,
          problem ?? `base offset ${baseOffset} is not ${expected}`,
        );
      }
      expected = baseOffset + BigInt(data.readInt32BE(at + BATCH_FIELD.recordsCount));
      at += size;
      batchCount++;
    }
    invariant(batchCount > 0, 'a read below the high watermark returns at least one batch');
    return { batches: data.subarray(0, at), batchCount, nextOffset: expected, highWatermark, logStartOffset };
  }

  /**
   * Like {@link Partition.read} but decodes the records and drops those before `offset`. Records'
   * keys and values are views into the read buffer.
   */
  async readRecords(offset: bigint, bytesMax: number): Promise<ReadRecordsResult> {
    const result = await this.read(offset, bytesMax);
    const records: LogRecord[] = [];
    const options = { decompressedBytesMax: this.#options.decompressedBytesMax };
    let at = 0;
    for (let batch = 0; batch < result.batchCount; batch++) {
      const size = recordBatchSize(result.batches, at);
      for (const record of decodeRecordBatchRecords(result.batches, at, options)) {
        if (record.offset >= offset) {
          records.push(record);
        }
      }
      at += size;
    }
    return {
      records,
      nextOffset: result.nextOffset,
      highWatermark: result.highWatermark,
      logStartOffset: result.logStartOffset,
    };
  }

  /**
   * The first durable record whose timestamp is at or after `timestampMs`, found through the time
   * index, or undefined when every record is older.
   */
  async offsetForTimestamp(timestampMs: number): Promise<TimestampLookup | undefined> {
    if (!Number.isFinite(timestampMs)) {
      throw new LogError('LOG_INVALID_ARGUMENT', `timestamp ${timestampMs} is not a finite number of ms`);
    }
    for (const segment of [...this.#segments]) {
      if (segment.timestampMsMax < timestampMs || segment.baseOffset >= this.#highWatermark) {
        continue;
      }
      const startRelative = segment.timeIndex.scanStart(timestampMs);
      if (startRelative >= segment.recordCount) {
        continue;
      }
      let offset = segment.baseOffset + BigInt(segment.offsetIndex.floor(startRelative).relativeOffset);
      if (offset < this.#logStartOffset) {
        offset = this.#logStartOffset;
      }
      let end = segment.nextOffset;
      if (this.#highWatermark < end) {
        end = this.#highWatermark;
      }
      // Each read advances by at least one batch, so the loop is bounded by the segment's records.
      for (let reads = 0; offset < end && reads <= segment.recordCount; reads++) {
        const result = await this.read(offset, 1024 * 1024);
        let at = 0;
        for (let batch = 0; batch < result.batchCount; batch++) {
          const size = recordBatchSize(result.batches, at);
          const header = decodeRecordBatchHeader(result.batches, at);
          if (header.timestampMsMax >= timestampMs) {
            const records = decodeRecordBatchRecords(result.batches, at, {
              decompressedBytesMax: this.#options.decompressedBytesMax,
            });
            for (const record of records) {
              if (record.timestampMs >= timestampMs && record.offset >= offset) {
                return { offset: record.offset, timestampMs: record.timestampMs };
              }
            }
          }
          at += size;
        }
        offset = result.nextOffset;
      }
    }
    return undefined;
  }

  /**
   * Deletes whole closed segments that fall outside the retention limits (never the active one)
   * and raises the log start offset. The new log start is checkpointed before any file is
   * removed. Runs on a timer and after every roll; resolves the number of segments deleted.
   */
  enforceRetention(): Promise<number> {
    if (this.#state !== 'open' || this.#failure !== undefined) {
      return Promise.resolve(0);
    }
    const running = this.#retentionRunning;
    if (running === undefined) {
      return this.#startRetention();
    }
    // A run is in progress with an older view: queue one more (shared by every caller meanwhile).
    this.#retentionQueued ??= running
      .catch(() => 0)
      .then(() => {
        this.#retentionQueued = undefined;
        return this.#state === 'open' && this.#failure === undefined ? this.#startRetention() : 0;
      });
    return this.#retentionQueued;
  }

  #startRetention(): Promise<number> {
    const run = this.#applyRetention().finally(() => {
      if (this.#retentionRunning === run) {
        this.#retentionRunning = undefined;
      }
    });
    this.#retentionRunning = run;
    return run;
  }

  async #applyRetention(): Promise<number> {
    const { retentionMs, retentionBytes } = this.#options;
    const nowMs = this.#options.clock();
    const segments = this.#segments;
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
    if (count === 0) {
      return 0;
    }
    const newStart = segments[count]!.baseOffset;
    if (newStart > this.#logStartOffset) {
      this.#logStartOffset = newStart;
    }
    await this.#requestCheckpoint();
    // Rolls only append at the end, so the first `count` segments are still the ones chosen.
    const removed = segments.splice(0, count);
    for (const segment of removed) {
      try {
        await segment.delete(this.#options.fileSystem);
      } catch (error) {
        this.#fail(ioError(`cannot delete segment ${segment.logPath}`, error));
        throw this.#failure;
      }
    }
    return count;
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
    this.#state = 'closing';
    for (const timer of this.#timers) {
      clearInterval(timer);
    }
    // Let already-accepted appends finish; bounded because no new appends are accepted.
    for (
      let round = 0;
      round < 1000 &&
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
    await this.#retentionQueued?.catch(() => {});
    await this.#retentionRunning?.catch(() => {});
    let closeError: unknown;
    const fileSystem = this.#options.fileSystem;
    const active = this.#segments.at(-1)!;
    if (this.#failure === undefined && this.#corruption === undefined) {
      try {
        if (this.#syncedOffset !== active.nextOffset) {
          await fileSystem.fdatasync(active.fd);
          this.#markSynced(active, active.nextOffset, active.sizeBytes);
        }
        await active.writeIndexFiles(fileSystem);
        await this.#requestCheckpoint();
      } catch (error) {
        closeError =
          error instanceof LogError ? error : ioError(`cannot close ${this.directory} cleanly`, error);
      }
    }
    await this.#checkpointTail;
    // From here reads are refused; reads already running hold a segment reference until done.
    this.#state = 'closed';
    for (const segment of this.#segments) {
      await segment.close(fileSystem).catch(() => {});
    }
    this.#listeners.clear();
    await this.#lock.release();
    if (closeError !== undefined) {
      throw closeError;
    }
  }
}

export type { FsyncPolicy, PartitionOptions } from './partition-options.ts';
