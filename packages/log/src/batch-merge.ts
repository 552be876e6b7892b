/**
 * What a write group stores: the appends the log encoded itself (`Partition.append`/`appendTo`)
 * reach the writer unsealed (no CRC yet), and consecutive ones of a group become one RecordBatch
 * v2, sealed here; a client's batch (`Partition.appendBatch`) is stored as it came.
 *
 * Why: a transport publish is one append of one record, so without this every record was a batch
 * of its own: 61 bytes of header, a CRC, an index check and a decode step per record on disk and on
 * every read. A merged batch is still one atomic unit (one CRC over all of it): a torn write loses
 * the whole batch, and none of its appends was acknowledged, because acknowledgement waits for the
 * sync that follows the write. Offsets, timestamps, keys, values and headers are exactly what each
 * append asked for; only the batch boundaries differ.
 *
 * Bounds: a merged batch holds at most {@link MERGED_BATCH_BYTES_MAX} bytes (and no more than the
 * partition's `batchBytesMax`), and never more bytes than its appends had apart (so every byte
 * bound the group was chosen under still holds).
 */

import type { PendingAppend } from './append-group.ts';
import { int64NumberAt } from './big-endian.ts';
import { crc32c } from './crc32c.ts';
import { invariant } from './errors.ts';
import {
  BATCH_FIELD,
  CRC_START_BYTE,
  LOG_OVERHEAD_BYTES,
  RECORD_BATCH_HEADER_BYTES,
  writeSafeInt64,
} from './record-batch.ts';
import type { Segment } from './segment.ts';
import {
  type ByteCursor,
  readVarint,
  readVarlong,
  varintSize,
  varlongSize,
  writeVarint,
  writeVarlong,
} from './varint.ts';

/**
 * Most bytes of a batch merged from appends: 64 KiB, one slab of Node 24's buffer pool, which is
 * also the largest batch a caught-up reader hands out as views of one copy (the broker's
 * `BODY_VIEW_BATCH_BYTES_MAX`), so a body a handler keeps pins no more than before. At 256
 * publishes in flight over four partitions a round holds about 64 records of 200 bytes per
 * partition (13 KiB): the bound cuts only bursts of large records, which gain little from merging.
 */
export const MERGED_BATCH_BYTES_MAX = 64 * 1024;

/** One batch as written: its bytes (sealed) and what the segment's indexes note of it. */
export interface StoredBatch {
  readonly bytes: Buffer;
  readonly baseOffset: bigint;
  readonly recordCount: number;
  readonly timestampMsMax: number;
}

/** What one write group stores: the buffers of one writev, and each batch in them. */
export interface SealedGroup {
  readonly buffers: Buffer[];
  readonly batches: StoredBatch[];
}

// Reused by every record walk; the walks never overlap (all synchronous).
const cursor: ByteCursor = { position: 0 };

/**
 * The batches `group` is stored as at the end of `active`: runs of unsealed appends merged (each
 * merged batch within {@link MERGED_BATCH_BYTES_MAX} and the partition's `batchBytesMax`) and
 * sealed, client batches as they are.
 * Checks that the appends continue `active` densely.
 */
export function sealGroup(
  active: Segment,
  group: readonly PendingAppend[],
  batchBytesMax: number,
): SealedGroup {
  const buffers: Buffer[] = [];
  const batches: StoredBatch[] = [];
  let expected = active.nextOffset;
  let index = 0;
  while (index < group.length) {
    const first = group[index]!;
    invariant(first.baseOffset === expected, 'appends are written in dense offset order');
    const run = first.sealed
      ? undefined
      : mergeRun(group, index, Math.min(MERGED_BATCH_BYTES_MAX, batchBytesMax));
    const end = run === undefined ? index + 1 : run.end;
    const batch = end - index === 1 ? sealAlone(first) : merge(group, index, end, run!.bytes);
    expected = batch.baseOffset + BigInt(batch.recordCount);
    buffers.push(batch.bytes);
    batches.push(batch);
    index = end;
  }
  return { buffers, batches };
}

/** A client batch, or an unsealed append stored alone (sealed in place). */
function sealAlone(append: PendingAppend): StoredBatch {
  if (!append.sealed) {
    const bytes = append.bytes;
    bytes.writeUInt32BE(crc32c(bytes, CRC_START_BYTE, bytes.length), BATCH_FIELD.crc);
  }
  return append;
}

/**
 * The merged batch that starts with `group[start]` (unsealed): one past its last append, and its
 * exact size in bytes.
 */
function mergeRun(
  group: readonly PendingAppend[],
  start: number,
  bytesMax: number,
): { readonly end: number; readonly bytes: number } {
  const first = group[start]!;
  const baseTimestampMs = int64NumberAt(first.bytes, BATCH_FIELD.baseTimestamp);
  let mergedBytes = first.bytes.length;
  let inputBytes = mergedBytes;
  let offsetShift = first.recordCount;
  let end = start + 1;
  while (end < group.length) {
    const next = group[end]!;
    if (next.sealed) break;
    const shiftMs = int64NumberAt(next.bytes, BATCH_FIELD.baseTimestamp) - baseTimestampMs;
    const recordsBytes = walkRecords(next, offsetShift, shiftMs, undefined, 0);
    const merged = mergedBytes + recordsBytes;
    inputBytes += next.bytes.length;
    if (merged > bytesMax || merged > inputBytes) break;
    mergedBytes = merged;
    offsetShift += next.recordCount;
    end++;
  }
  return { end, bytes: mergedBytes };
}

/** `group[start]` .. `group[end - 1]` as one sealed batch of `size` bytes ({@link mergeRun}'s). */
function merge(group: readonly PendingAppend[], start: number, end: number, size: number): StoredBatch {
  const first = group[start]!;
  const baseTimestampMs = int64NumberAt(first.bytes, BATCH_FIELD.baseTimestamp);
  const bytes = Buffer.allocUnsafe(size);
  // The first append's header and records are already relative to the merged batch's base.
  first.bytes.copy(bytes, 0);
  let position = first.bytes.length;
  let recordCount = first.recordCount;
  let timestampMsMax = first.timestampMsMax;
  for (let index = start + 1; index < end; index++) {
    const append = group[index]!;
    const shiftMs = int64NumberAt(append.bytes, BATCH_FIELD.baseTimestamp) - baseTimestampMs;
    position = walkRecords(append, recordCount, shiftMs, bytes, position);
    recordCount += append.recordCount;
    if (append.timestampMsMax > timestampMsMax) timestampMsMax = append.timestampMsMax;
  }
  invariant(position === size, 'a merged batch fills the size its sizing walk found');
  bytes.writeInt32BE(position - LOG_OVERHEAD_BYTES, BATCH_FIELD.batchLength);
  bytes.writeInt32BE(recordCount - 1, BATCH_FIELD.lastOffsetDelta);
  writeSafeInt64(bytes, BATCH_FIELD.maxTimestamp, timestampMsMax);
  bytes.writeInt32BE(recordCount, BATCH_FIELD.recordsCount);
  bytes.writeUInt32BE(crc32c(bytes, CRC_START_BYTE, position), BATCH_FIELD.crc);
  return { bytes, baseOffset: first.baseOffset, recordCount, timestampMsMax };
}

/**
 * Walks the records of `append` (uncompressed, as the log encodes them) re-based onto a merged
 * batch: offset deltas shifted by `offsetShift`, timestamp deltas by `shiftMs`. With a `target`,
 * writes them at `position` and returns the position after them; without, returns their size,
 * or infinity when a shifted timestamp delta is not a safe integer (timestamps of either sign,
 * far apart): such an append is not merged.
 */
function walkRecords(
  append: PendingAppend,
  offsetShift: number,
  shiftMs: number,
  target: Buffer | undefined,
  position: number,
): number {
  const bytes = append.bytes;
  const end = bytes.length;
  cursor.position = RECORD_BATCH_HEADER_BYTES;
  for (let record = 0; record < append.recordCount; record++) {
    const bodyBytes = readVarint(bytes, cursor, end);
    const bodyStart = cursor.position;
    const bodyEnd = bodyStart + bodyBytes;
    cursor.position = bodyStart + 1; // past the record's attributes
    const timestampDelta = readVarlong(bytes, cursor, end) + shiftMs;
    if (!Number.isSafeInteger(timestampDelta)) return Number.POSITIVE_INFINITY;
    const offsetDelta = readVarint(bytes, cursor, end) + offsetShift;
    const restStart = cursor.position;
    const newBodyBytes = 1 + varlongSize(timestampDelta) + varintSize(offsetDelta) + (bodyEnd - restStart);
    if (target === undefined) {
      position += varintSize(newBodyBytes) + newBodyBytes;
    } else {
      position = writeVarint(target, position, newBodyBytes);
      target[position++] = bytes[bodyStart]!;
      position = writeVarlong(target, position, timestampDelta);
      position = writeVarint(target, position, offsetDelta);
      position += bytes.copy(target, position, restStart, bodyEnd);
    }
    cursor.position = bodyEnd;
  }
  invariant(cursor.position === end, 'an unsealed append holds exactly its records');
  return position;
}
