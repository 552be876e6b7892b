/**
 * The narrow view of one partition of `@herald/log` the broker uses, so the broker's logic does
 * not depend on the engine's full surface. `openPartitionLog` adapts the engine's partition.
 */
import type { AppendWaiter, ReadResult } from '@herald/log';

/**
 * A record as the broker writes it (a string header value is stored as its UTF-8 bytes). A
 * published message's headers are its header object itself (the log writes them in
 * `Object.keys` order, no pair array per header); the schedule journal's are pairs.
 */
export interface RecordToAppend {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array;
  readonly headers: readonly (readonly [string, Uint8Array | string])[] | Readonly<Record<string, string>>;
  readonly timestampMs: number;
}

/** One partition's log. */
export interface PartitionLog {
  /** Offset the next appended record gets; readers see every offset below it. */
  readonly highWatermark: bigint;
  /** First offset still stored. */
  readonly logStartOffset: bigint;
  /**
   * Appends `records` as one batch; tells `waiter` their offsets once durable (per the fsync
   * policy), or the failure (a refusal within this call). No promise: the publish path settles
   * its own (publish-path.ts).
   */
  appendTo(records: readonly RecordToAppend[], waiter: AppendWaiter): void;
  /**
   * Whole stored batches from the one holding `offset` on, at most about `bytesMax` bytes (at
   * least one batch when any record exists), CRC-checked, undecoded: a consumer group decodes
   * them into its entries a batch at a time as its window takes them (`ReadEntries` in
   * group-entry.ts).
   */
  read(offset: bigint, bytesMax: number): Promise<ReadResult>;
  /** First offset whose timestamp is at or after `timestampMs`, or undefined when none is. */
  offsetForTimestamp(timestampMs: number): Promise<bigint | undefined>;
  /** Calls `listener` after records became readable; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void;
  /** Closes the partition. */
  close(): Promise<void>;
}
