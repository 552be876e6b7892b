/**
 * `@herald/log`: a durable, partitioned, crash-safe append-only log storage engine in pure
 * `node:fs`, storing Kafka RecordBatch v2 batches. See README.md for the on-disk layout,
 * durability policies and fault model.
 */

export type { AppendWaiter } from './append-group.ts';
export {
  COMPRESSION_CODEC_IDS,
  type CompressionCodec,
  type CompressionName,
  findCompressionCodec,
  registerCompressionCodec,
} from './compression.ts';
export { LOCK_FILE_NAME } from './directory-lock.ts';
export {
  isLogError,
  LOG_ERROR_CODES,
  LogError,
  type LogErrorCode,
  type LogErrorOptions,
  LogLockedError,
} from './errors.ts';
export { type FileStats, type FileSystem, nodeFileSystem } from './file-system.ts';
export { type LogStore, type LogStoreOptions, openLogStore, type PartitionName } from './log-store.ts';
export {
  type AppendListener,
  type AppendResult,
  openPartition,
  Partition,
  type ReadRecordsResult,
  type ReadResult,
  type SegmentDescription,
  type TimestampLookup,
} from './partition.ts';
export type { FsyncPolicy, PartitionOptions } from './partition-options.ts';
export {
  BATCH_ATTRIBUTE,
  BATCH_FIELD,
  decodeRecordBatchHeader,
  type EncodeRecordBatchOptions,
  encodeRecordBatch,
  findRecordBatchProblem,
  LOG_OVERHEAD_BYTES,
  type LogRecord,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
  type RecordBatchHeader,
  type RecordHeader,
  type RecordHeaderInput,
  type RecordHeaderObject,
  type RecordInput,
  recordBatchSize,
  utf8,
  verifyRecordBatch,
} from './record-batch.ts';
export {
  type DecodeRecordsOptions,
  decodeRecordBatchInto,
  decodeRecordBatchRecords,
  type RecordBuilder,
  type RecordFields,
} from './record-decode.ts';
export type { RecoveryReport } from './recovery.ts';
