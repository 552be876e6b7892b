/**
 * The narrow view of one partition of `@herald/log` the broker uses, so the broker's logic does
 * not depend on the engine's full surface. `openPartitionLog` adapts the engine's partition.
 */

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
  /** Records from `offset` on, at most about `bytesMax` bytes (at least one record when any exists). */
  readRecords(offset: bigint, bytesMax: number): Promise<readonly StoredRecord[]>;
  /** First offset whose timestamp is at or after `timestampMs`, or undefined when none is. */
  offsetForTimestamp(timestampMs: number): Promise<bigint | undefined>;
  /** Calls `listener` after records became readable; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void;
  /** Closes the partition. */
  close(): Promise<void>;
}
