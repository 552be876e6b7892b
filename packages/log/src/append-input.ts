/**
 * Checks what callers hand to a partition's append before anything is queued: the records of
 * `Partition.append` are measured against `recordBytesMax` and encoded as one batch; a raw batch of
 * `Partition.appendBatch` is checked whole (length, magic, CRC-32C, the record count against
 * LastOffsetDelta, and every record when its codec is registered). Bad input is an operating error
 * (`LOG_INVALID_BATCH`, `LOG_RECORD_TOO_LARGE`, `LOG_BATCH_TOO_LARGE`, `LOG_INVALID_ARGUMENT`):
 * it is refused here and never reaches the disk.
 */

import { LogError } from './errors.ts';
import type { ResolvedPartitionOptions } from './partition-options.ts';
import {
  decodeRecordBatchHeader,
  encodeUnsealedRecordBatch,
  findRecordBatchProblem,
  RECORD_BATCH_HEADER_BYTES,
  type RecordInput,
  recordBatchSize,
} from './record-batch.ts';
import { decodeRecordBatchRecords } from './record-decode.ts';

/**
 * Encodes `records` as one batch stamped with the partition's leader epoch and clock, without its
 * CRC: the writer seals it, alone or merged with the next appends of its group (batch-merge.ts). Throws
 * `LOG_INVALID_BATCH` for an empty or non-array input and `LOG_RECORD_TOO_LARGE` naming the first
 * record above `recordBytesMax`.
 */
export function encodeAppend(records: readonly RecordInput[], options: ResolvedPartitionOptions): Buffer {
  if (!Array.isArray(records) || records.length === 0) {
    throw new LogError(
      'LOG_INVALID_BATCH',
      'append needs a non-empty array of records; pass at least one record',
    );
  }
  // The batch encoder measures each record's key, value and headers against recordBytesMax in the
  // pass that sizes the batch (one measurement of each header string, not two).
  return encodeUnsealedRecordBatch(records, {
    partitionLeaderEpoch: options.leaderEpoch,
    timestampMs: options.clock(),
    recordBytesMax: options.recordBytesMax,
  });
}

/**
 * Throws `LOG_BATCH_TOO_LARGE` for a batch of `bytes` above `batchBytesMax`, and `LOG_QUEUE_FULL`
 * (retriable) when a partition's append queue (`queuedCount` appends of `queuedBytes` waiting)
 * has no room for it.
 */
export function checkQueueRoom(
  bytes: number,
  queuedCount: number,
  queuedBytes: number,
  options: ResolvedPartitionOptions,
  directory: string,
): void {
  if (bytes > options.batchBytesMax) {
    throw new LogError(
      'LOG_BATCH_TOO_LARGE',
      `batch of ${bytes} bytes is above batchBytesMax ${options.batchBytesMax}; append fewer records per call or raise batchBytesMax`,
    );
  }
  if (queuedCount >= options.appendQueueCountMax || queuedBytes + bytes > options.appendQueueBytesMax) {
    throw new LogError(
      'LOG_QUEUE_FULL',
      `append queue of ${directory} is full (${queuedCount} appends, ${queuedBytes} bytes waiting for the disk); retry after pending appends complete`,
      { retriable: true },
    );
  }
}

/**
 * Checks one raw client-encoded RecordBatch v2 and returns its header. Records are checked too
 * when the batch is uncompressed or uses a codec always available (gzip, zstd): dense offset
 * deltas and `recordBytesMax`.
 */
export function validateClientBatch(
  batch: Uint8Array,
  options: ResolvedPartitionOptions,
): ReturnType<typeof decodeRecordBatchHeader> {
  if (!(batch instanceof Uint8Array)) {
    throw new LogError('LOG_INVALID_ARGUMENT', 'appendBatch needs a Uint8Array holding one RecordBatch v2');
  }
  if (batch.length > options.batchBytesMax) {
    throw new LogError(
      'LOG_BATCH_TOO_LARGE',
      `batch of ${batch.length} bytes is above batchBytesMax ${options.batchBytesMax}; send smaller batches or raise batchBytesMax`,
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
    checkClientRecords(batch, header.baseOffset, options);
  }
  return header;
}

/** Every record of `batch` has the next offset delta and at most `recordBytesMax` bytes. */
function checkClientRecords(batch: Uint8Array, baseOffset: bigint, options: ResolvedPartitionOptions): void {
  const records = decodeRecordBatchRecords(batch, 0, {
    decompressedBytesMax: options.decompressedBytesMax,
  });
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    if (record.offset - baseOffset !== BigInt(index)) {
      throw new LogError(
        'LOG_INVALID_BATCH',
        `record ${index} has offset delta ${record.offset - baseOffset}, expected ${index}; offsets in a batch must be dense`,
      );
    }
    let size = (record.key?.length ?? 0) + (record.value?.length ?? 0);
    for (const [key, value] of record.headers) {
      size += Buffer.byteLength(key) + (value?.length ?? 0);
    }
    if (size > options.recordBytesMax) {
      throw new LogError(
        'LOG_RECORD_TOO_LARGE',
        `record ${index} has ${size} bytes, above recordBytesMax ${options.recordBytesMax}; split the payload or raise recordBytesMax`,
      );
    }
  }
}
