/**
 * The reader of a partition: finds the batch holding an offset through the segment's sparse
 * offset index, returns whole stored batches up to the high watermark, decodes records, and
 * looks offsets up by timestamp through the time index. Reads run concurrently with the writer
 * and with retention; a read holds a reference on its segment so retention's deletion and
 * close wait for it.
 *
 * How the reader keeps the fault model of partition.ts: it returns only bytes below the durable
 * point (`Segment.readableBytes`, bounded by the high watermark), checks every batch header right
 * after reading it (dense offsets, a length inside the durable bytes) and every returned batch's
 * CRC-32C. A failed check is never returned as data: it is recorded as `LOG_CORRUPT` with file
 * and byte position, and the partition stops serving.
 */

import { invariant, ioError, LogError, systemErrorCode } from './errors.ts';
import type { PartitionState } from './partition-state.ts';
import {
  BATCH_FIELD,
  decodeRecordBatchHeader,
  findRecordBatchProblem,
  LOG_OVERHEAD_BYTES,
  type LogRecord,
  RECORD_BATCH_HEADER_BYTES,
  recordBatchSize,
} from './record-batch.ts';
import { decodeRecordBatchRecords } from './record-decode.ts';
import type { Segment } from './segment.ts';

/** Whole stored batches returned by `Partition.read`. */
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

/** Decoded records returned by `Partition.readRecords`. */
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

/** Result of `Partition.offsetForTimestamp`. */
export interface TimestampLookup {
  /** Offset of the first record whose timestamp is at or after the requested one. */
  readonly offset: bigint;
  /** That record's timestamp. */
  readonly timestampMs: number;
}

/** Bytes read per step while looking for the batch that holds an offset. */
const LOCATE_WINDOW_BYTES = 16 * 1024;
/** Bytes read per step while scanning for a timestamp. */
const TIMESTAMP_SCAN_BYTES = 1024 * 1024;

/** The reader of one partition. */
export class PartitionReader {
  readonly #state: PartitionState;

  constructor(state: PartitionState) {
    this.#state = state;
  }

  /** See `Partition.read`. */
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
    const highWatermark = this.#state.highWatermark;
    const logStartOffset = this.#state.logStartOffset;
    if (offset < logStartOffset || offset > highWatermark) {
      throw this.#outOfRange(offset);
    }
    if (offset === highWatermark) {
      return { batches: new Uint8Array(0), batchCount: 0, nextOffset: offset, highWatermark, logStartOffset };
    }
    const segment = this.#segmentFor(offset);
    segment.acquireReader();
    try {
      await this.#warm(segment);
      return await this.#readSegment(segment, offset, bytesMax, highWatermark, logStartOffset);
    } catch (error) {
      // A failed read call (EIO) is the disk's, reported typed like every other I/O failure.
      if (error instanceof LogError || systemErrorCode(error) === undefined) throw error;
      throw ioError(`cannot read ${segment.logPath} at offset ${offset}`, error);
    } finally {
      segment.releaseReader();
    }
  }

  /** See `Partition.readRecords`. */
  async readRecords(offset: bigint, bytesMax: number): Promise<ReadRecordsResult> {
    const result = await this.read(offset, bytesMax);
    const records: LogRecord[] = [];
    const options = { decompressedBytesMax: this.#state.options.decompressedBytesMax };
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

  /** See `Partition.offsetForTimestamp`. */
  async offsetForTimestamp(timestampMs: number): Promise<TimestampLookup | undefined> {
    if (!Number.isFinite(timestampMs)) {
      throw new LogError('LOG_INVALID_ARGUMENT', `timestamp ${timestampMs} is not a finite number of ms`);
    }
    for (const segment of [...this.#state.segments]) {
      if (segment.timestampMsMax < timestampMs || segment.baseOffset >= this.#state.highWatermark) {
        continue;
      }
      // Held while its indexes are used, so the segment cannot go cold meanwhile.
      segment.acquireReader();
      try {
        await this.#warm(segment);
        const startRelative = segment.timeIndex.scanStart(timestampMs);
        if (startRelative >= segment.recordCount) {
          continue;
        }
        const found = await this.#scanForTimestamp(segment, startRelative, timestampMs);
        if (found !== undefined) {
          return found;
        }
      } finally {
        segment.releaseReader();
      }
    }
    return undefined;
  }

  /** Reads `segment` from the index entry at or below `startRelative` to the first record at or after `timestampMs`. */
  async #scanForTimestamp(
    segment: Segment,
    startRelative: number,
    timestampMs: number,
  ): Promise<TimestampLookup | undefined> {
    let offset = segment.baseOffset + BigInt(segment.offsetIndex.floor(startRelative).relativeOffset);
    if (offset < this.#state.logStartOffset) {
      offset = this.#state.logStartOffset;
    }
    let end = segment.nextOffset;
    if (this.#state.highWatermark < end) {
      end = this.#state.highWatermark;
    }
    // Each read advances by at least one batch, so the loop is bounded by the segment's records.
    for (let reads = 0; offset < end && reads <= segment.recordCount; reads++) {
      const result = await this.read(offset, TIMESTAMP_SCAN_BYTES);
      let at = 0;
      for (let batch = 0; batch < result.batchCount; batch++) {
        const size = recordBatchSize(result.batches, at);
        const header = decodeRecordBatchHeader(result.batches, at);
        if (header.timestampMsMax >= timestampMs) {
          const records = decodeRecordBatchRecords(result.batches, at, {
            decompressedBytesMax: this.#state.options.decompressedBytesMax,
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
    return undefined;
  }

  /**
   * Makes a held segment warm (a closed one may be cold, see segment-residency.ts). Damage found
   * while rebuilding a missing index is corruption of rolled data: the partition stops serving.
   */
  async #warm(segment: Segment): Promise<void> {
    try {
      await this.#state.residency.warm(segment);
    } catch (error) {
      if (error instanceof LogError && error.code === 'LOG_CORRUPT') {
        throw this.#state.corrupt(segment, 0, segment.baseOffset, error.message);
      }
      throw error;
    }
  }

  #readRefusal(): LogError | undefined {
    if (this.#state.lifecycle === 'closed') {
      return new LogError(
        'LOG_CLOSED',
        `partition ${this.#state.directory} is closed; reopen it with openPartition()`,
      );
    }
    return this.#state.corruption;
  }

  #segmentFor(offset: bigint): Segment {
    const segments = this.#state.segments;
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
      `offset ${offset} is outside ${this.#state.directory}, which holds offsets ${this.#state.logStartOffset} to ${this.#state.highWatermark} (exclusive); read from logStartOffset or the high watermark instead`,
    );
  }

  async #readSegment(
    segment: Segment,
    offset: bigint,
    bytesMax: number,
    highWatermark: bigint,
    logStartOffset: bigint,
  ): Promise<ReadResult> {
    const fileSystem = this.#state.options.fileSystem;
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
        throw this.#state.corrupt(
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
          throw this.#state.corrupt(segment, position, expected, 'file shorter than its durable size');
        }
      }
      const at = position - windowStart;
      const baseOffset = window.readBigInt64BE(at + BATCH_FIELD.baseOffset);
      const size = window.readInt32BE(at + BATCH_FIELD.batchLength) + LOG_OVERHEAD_BYTES;
      const lastOffset = baseOffset + BigInt(window.readInt32BE(at + BATCH_FIELD.lastOffsetDelta));
      // Invariants right after reading: dense offsets and a length inside the durable bytes.
      if (baseOffset !== expected || size < RECORD_BATCH_HEADER_BYTES || size > limit - position) {
        throw this.#state.corrupt(
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
    return this.#checkBatches(segment, data, position, expected, highWatermark, logStartOffset);
  }

  /**
   * Cuts `data` (read at `position`, its first batch starting at offset `expected`) to the whole
   * batches it holds, checking each batch's CRC-32C and offsets before it is returned.
   */
  #checkBatches(
    segment: Segment,
    data: Buffer,
    position: number,
    expectedFirst: bigint,
    highWatermark: bigint,
    logStartOffset: bigint,
  ): ReadResult {
    let expected = expectedFirst;
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
        throw this.#state.corrupt(
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
}
