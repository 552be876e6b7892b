/**
 * Fake logs' reads for consumer-group tests: records encoded as the stored batches `@herald/log`
 * returns from `Partition.read`, which the group decodes into its entries itself.
 */
import { encodeRecordBatch, type ReadResult, type RecordInput } from '@herald/log';

/** A record of a fake log: what the log is given, with the offset it stores it at. */
export interface TestRecord extends RecordInput {
  readonly offset: bigint;
  readonly timestampMs: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array;
  readonly headers: readonly (readonly [string, Uint8Array | null])[];
}

/**
 * `batches` (each a run of consecutive offsets, stored as one batch) as a read answers them; an
 * empty list is a read at the high watermark.
 */
export function storedRead(batches: readonly (readonly TestRecord[])[], highWatermark: bigint): ReadResult {
  const encoded = batches
    .filter((batch) => batch.length > 0)
    .map((batch) => encodeRecordBatch(batch, { baseOffset: batch[0]!.offset }));
  const last = batches.flat().at(-1);
  return {
    batches: Buffer.concat(encoded),
    batchCount: encoded.length,
    nextOffset: last === undefined ? highWatermark : last.offset + 1n,
    highWatermark,
    logStartOffset: 0n,
  };
}
