/**
 * The narrow view of one partition of `@herald/log` the broker uses, so the broker's logic does
 * not depend on the engine's full surface. `openPartitionLog` adapts the engine's partition.
 */
import { decodeRecordBatchRecords, type ReadResult, recordBatchSize } from '@herald/log';

/** A record as the broker writes it (a string header value is stored as its UTF-8 bytes). */
export interface RecordToAppend {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array;
  readonly headers: readonly (readonly [string, Uint8Array | string])[];
  readonly timestampMs: number;
}

/** A record as read back. */
export interface StoredRecord {
  readonly offset: bigint;
  readonly timestampMs: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly (readonly [string, Uint8Array | null])[];
}

/** One partition's log. */
export interface PartitionLog {
  /** Offset the next appended record gets; readers see every offset below it. */
  readonly highWatermark: bigint;
  /** First offset still stored. */
  readonly logStartOffset: bigint;
  /** Appends `records` as one batch; resolves with their offsets once durable (per the fsync policy). */
  append(records: readonly RecordToAppend[]): Promise<{ baseOffset: bigint; lastOffset: bigint }>;
  /**
   * Records from `offset` on, at most about `bytesMax` bytes (at least one record when any
   * exists), in offset order. The log's adapter decodes them one batch at a time as the caller
   * iterates (see {@link recordsOf}); iterating may throw if a stored batch does not decode.
   */
  readRecords(offset: bigint, bytesMax: number): Promise<Iterable<StoredRecord>>;
  /** First offset whose timestamp is at or after `timestampMs`, or undefined when none is. */
  offsetForTimestamp(timestampMs: number): Promise<bigint | undefined>;
  /** Calls `listener` after records became readable; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void;
  /** Closes the partition. */
  close(): Promise<void>;
}

/**
 * The records of a read from `offset` on, decoded one batch at a time as they are iterated. A
 * consumer group keeps what a read returned beyond its window's room (its read-ahead) and takes
 * records as acks free room, so decoding up front would keep every record of the read alive as
 * objects for that whole time: with 1 MiB reads of 100-byte records, some 9,000 objects per
 * partition, old enough to be promoted, which is what made a catch-up's heap grow to gigabytes.
 * Decoded lazily, at most one batch of objects is alive per read beside the raw bytes.
 */
export function* recordsOf(result: ReadResult, offset: bigint): Generator<StoredRecord, void, undefined> {
  let position = 0;
  for (let batch = 0; batch < result.batchCount; batch++) {
    const size = recordBatchSize(result.batches, position);
    for (const record of decodeRecordBatchRecords(result.batches, position)) {
      if (record.offset >= offset) yield record;
    }
    position += size;
  }
}
