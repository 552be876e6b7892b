/**
 * Validating scan of a segment file: walks batches from a position and checks each one (length
 * fits, magic 2, CRC-32C, record count dense, base offset equal to the expected next offset). It
 * stops at the first problem and reports where, so recovery can decide between truncating a torn
 * tail and refusing a corrupt partition. Batches that fit in the read window are checked in
 * memory; larger ones are checksummed in window-sized pieces so a bogus length never makes the
 * scan allocate more than one window.
 */

import { crc32cUpdate } from './crc32c.ts';
import type { FileSystem } from './file-system.ts';
import { readFully } from './file-system.ts';
import {
  BATCH_FIELD,
  CRC_START_BYTE,
  findRecordBatchProblem,
  LOG_OVERHEAD_BYTES,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
} from './record-batch.ts';

/** Where and why a scan stopped early. */
export interface ScanProblem {
  /** Byte position of the bad batch. */
  readonly position: number;
  /** Offset the bad batch should have started at. */
  readonly offset: bigint;
  /** What is wrong with it. */
  readonly reason: string;
}

/** Result of {@link scanSegmentFile}. */
export interface ScanResult {
  /** Position after the last valid batch. */
  readonly endPosition: number;
  /** Offset after the last valid batch. */
  readonly nextOffset: bigint;
  /** Set when the scan stopped before `fileBytes`. */
  readonly problem: ScanProblem | undefined;
}

/** Called for each valid batch. */
export type ScanVisitor = (
  position: number,
  sizeBytes: number,
  baseOffset: bigint,
  recordCount: number,
  timestampMsMax: number,
) => void;

const WINDOW_BYTES = 1 << 20;

/**
 * Validates the batches of `fd` from `startPosition` (expected to hold `startOffset`) up to
 * `fileBytes`, calling `visit` for each valid one.
 */
export async function scanSegmentFile(
  fileSystem: FileSystem,
  fd: number,
  fileBytes: number,
  startPosition: number,
  startOffset: bigint,
  visit?: ScanVisitor,
): Promise<ScanResult> {
  const window = Buffer.allocUnsafe(Math.min(WINDOW_BYTES, Math.max(fileBytes - startPosition, 0)));
  let windowStart = 0;
  let windowEnd = 0;
  let position = startPosition;
  let expected = startOffset;
  const stop = (reason: string): ScanResult => ({
    endPosition: position,
    nextOffset: expected,
    problem: { position, offset: expected, reason },
  });
  // Every iteration either consumes a batch of at least 61 bytes or returns.
  const iterationsMax = Math.ceil((fileBytes - startPosition) / RECORD_BATCH_HEADER_BYTES) + 1;
  for (let iteration = 0; iteration < iterationsMax && position < fileBytes; iteration++) {
    const remaining = fileBytes - position;
    if (remaining < RECORD_BATCH_HEADER_BYTES) {
      return stop(`torn batch: only ${remaining} bytes left, a batch header needs 61`);
    }
    if (position < windowStart || position + RECORD_BATCH_HEADER_BYTES > windowEnd) {
      const length = Math.min(window.length, remaining);
      windowStart = position;
      windowEnd = position + (await readFully(fileSystem, fd, window, length, position));
      if (windowEnd - position < RECORD_BATCH_HEADER_BYTES) {
        return stop('file ended while reading a batch header');
      }
    }
    const at = position - windowStart;
    const size = window.readInt32BE(at + BATCH_FIELD.batchLength) + LOG_OVERHEAD_BYTES;
    const baseOffset = window.readBigInt64BE(at + BATCH_FIELD.baseOffset);
    if (size < RECORD_BATCH_HEADER_BYTES) {
      return stop(`batch length ${size - LOG_OVERHEAD_BYTES} is smaller than a header`);
    }
    if (size > remaining) {
      return stop(`torn batch: length says ${size} bytes but only ${remaining} remain in the file`);
    }
    if (position + size <= windowEnd) {
      const problem = findRecordBatchProblem(window, at, at + size);
      if (problem !== undefined) {
        return stop(problem);
      }
    } else {
      const problem = await checkLargeBatch(fileSystem, fd, window, position, size);
      if (problem !== undefined) {
        return stop(problem);
      }
      // The window was reused for checksumming: re-read the header below.
      windowEnd = windowStart;
      await readFully(fileSystem, fd, window, RECORD_BATCH_HEADER_BYTES, position);
      windowStart = position;
      windowEnd = position + RECORD_BATCH_HEADER_BYTES;
    }
    const header = position - windowStart;
    if (baseOffset !== expected) {
      return stop(`base offset ${baseOffset} breaks the dense sequence, expected ${expected}`);
    }
    const recordCount = window.readInt32BE(header + BATCH_FIELD.recordsCount);
    const timestampMsMax = Number(window.readBigInt64BE(header + BATCH_FIELD.maxTimestamp));
    visit?.(position, size, baseOffset, recordCount, timestampMsMax);
    expected = baseOffset + BigInt(recordCount);
    position += size;
  }
  return { endPosition: position, nextOffset: expected, problem: undefined };
}

/** Checks a batch larger than the window, reading it piece by piece into `window`. */
async function checkLargeBatch(
  fileSystem: FileSystem,
  fd: number,
  window: Buffer,
  position: number,
  size: number,
): Promise<string | undefined> {
  const header = Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES);
  await readFully(fileSystem, fd, header, RECORD_BATCH_HEADER_BYTES, position);
  if (header.readInt8(BATCH_FIELD.magic) !== RECORD_BATCH_MAGIC) {
    return `magic is ${header.readInt8(BATCH_FIELD.magic)}, expected 2`;
  }
  const count = header.readInt32BE(BATCH_FIELD.recordsCount);
  if (count < 1 || header.readInt32BE(BATCH_FIELD.lastOffsetDelta) !== count - 1) {
    return `records count ${count} does not match the last offset delta (offsets must be dense)`;
  }
  let crc = 0;
  let at = position + CRC_START_BYTE;
  const end = position + size;
  // Bounded: each piece advances by at least one byte or the batch is reported torn.
  for (let piece = 0; at < end && piece <= size; piece++) {
    const length = Math.min(window.length, end - at);
    const count = await readFully(fileSystem, fd, window, length, at);
    if (count < length) {
      return 'torn batch: file ended inside the batch';
    }
    crc = crc32cUpdate(crc, window, 0, length);
    at += length;
  }
  const stored = header.readUInt32BE(BATCH_FIELD.crc);
  return crc === stored
    ? undefined
    : `CRC-32C mismatch: stored 0x${stored.toString(16)}, computed 0x${crc.toString(16)}`;
}
