/**
 * Validating scan of a segment file: walks batches from a position and checks each one (length
 * fits, magic 2, CRC-32C, record count dense, base offset equal to the expected next offset). It
 * stops at the first problem and reports where, so recovery can decide between truncating a torn
 * tail and refusing a corrupt partition. Batches that fit in the read window are checked in
 * memory; larger ones are checksummed in window-sized pieces so a bogus length never makes the
 * scan allocate more than one window.
 */

import { checksumRanges } from './checksum-threads.ts';
import { crc32cUpdate } from './crc32c.ts';
import type { FileSystem } from './file-system.ts';
import { readFully } from './file-system.ts';
import {
  BATCH_FIELD,
  CRC_START_BYTE,
  crcMismatch,
  denseCountProblem,
  LOG_OVERHEAD_BYTES,
  magicProblem,
  RECORD_BATCH_HEADER_BYTES,
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
/** Windows at least this large are shared memory, so checksum threads can read them in place. */
const SHARED_WINDOW_BYTES_MIN = 64 * 1024;

/**
 * Shared 1 MiB windows kept for the next scan (a scan of fewer bytes uses the start of one):
 * recovering 400 partitions allocated (and the kernel zero-filled and faulted in) a window each,
 * now at most {@link SPARE_WINDOWS_MAX} are
 * ever allocated while scans keep coming, and they are dropped {@link SPARE_WINDOWS_KEPT_MS}
 * after the last scan ended (RSS after recovery stays as before).
 */
const spareWindows: Buffer[] = [];
/** Most windows kept: as many as partitions open at once in a store (PARTITIONS_OPENING_MAX). */
const SPARE_WINDOWS_MAX = 16;
/** How long spare windows outlive the last scan. */
const SPARE_WINDOWS_KEPT_MS = 1000;
let spareWindowsTimer: NodeJS.Timeout | undefined;

/** A window of `bytes`: shared memory (a spare 1 MiB window's start) when large enough. */
function takeWindow(bytes: number): Buffer {
  if (bytes < SHARED_WINDOW_BYTES_MIN) return Buffer.allocUnsafe(bytes);
  const full = spareWindows.pop() ?? Buffer.from(new SharedArrayBuffer(WINDOW_BYTES));
  return full.subarray(0, bytes);
}

/** Keeps a shared window for the next scan; call once no checksum thread reads it. */
function giveBackWindow(window: Buffer): void {
  if (!(window.buffer instanceof SharedArrayBuffer) || spareWindows.length >= SPARE_WINDOWS_MAX) return;
  spareWindows.push(Buffer.from(window.buffer));
  clearTimeout(spareWindowsTimer);
  spareWindowsTimer = setTimeout(() => {
    spareWindows.length = 0;
  }, SPARE_WINDOWS_KEPT_MS);
  spareWindowsTimer.unref();
}

/** A structural problem of a batch that fits in the window; `crcFirst` when a bad CRC outranks it. */
interface StructuralProblem {
  readonly reason: string;
  readonly crcFirst: boolean;
}

/**
 * What is wrong with the batch at `window[at, at + size)` apart from its CRC, with
 * `findRecordBatchProblem`'s checks and order (record-batch.ts: magic before the CRC, the record
 * count after it), then the base offset.
 */
function structuralProblem(window: Buffer, at: number, expected: bigint): StructuralProblem | undefined {
  const magic = magicProblem(window.readInt8(at + BATCH_FIELD.magic));
  if (magic !== undefined) return { reason: magic, crcFirst: false };
  const dense = denseCountProblem(
    window.readInt32BE(at + BATCH_FIELD.recordsCount),
    window.readInt32BE(at + BATCH_FIELD.lastOffsetDelta),
  );
  if (dense !== undefined) return { reason: dense, crcFirst: true };
  const baseOffset = window.readBigInt64BE(at + BATCH_FIELD.baseOffset);
  if (baseOffset !== expected) {
    return {
      reason: `base offset ${baseOffset} breaks the dense sequence, expected ${expected}`,
      crcFirst: true,
    };
  }
  return undefined;
}

/**
 * Validates the batches of `fd` from `startPosition` (expected to hold `startOffset`) up to
 * `fileBytes`, calling `visit` for each valid one.
 *
 * Each window is read once from the first batch not yet validated; every batch that fits in it is
 * checked for structure first, then the CRCs of all of them are computed together (on a checksum
 * thread when there is room, see checksum-threads.ts), and only then are they visited, in order, up
 * to the first bad one. A batch larger than the window is checksummed piece by piece.
 */
export async function scanSegmentFile(
  fileSystem: FileSystem,
  fd: number,
  fileBytes: number,
  startPosition: number,
  startOffset: bigint,
  visit?: ScanVisitor,
): Promise<ScanResult> {
  const window = takeWindow(Math.min(WINDOW_BYTES, Math.max(fileBytes - startPosition, 0)));
  try {
    return await scanWindows(fileSystem, fd, fileBytes, startPosition, startOffset, window, visit);
  } finally {
    giveBackWindow(window);
  }
}

async function scanWindows(
  fileSystem: FileSystem,
  fd: number,
  fileBytes: number,
  startPosition: number,
  startOffset: bigint,
  window: Buffer,
  visit: ScanVisitor | undefined,
): Promise<ScanResult> {
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
    const windowStart = position;
    const filled = await readFully(fileSystem, fd, window, Math.min(window.length, remaining), position);
    if (filled < RECORD_BATCH_HEADER_BYTES) {
      return stop('file ended while reading a batch header');
    }
    // The batches wholly inside the window, up to the first one with a structural problem.
    const starts: number[] = [];
    const sizes: number[] = [];
    let problem: StructuralProblem | undefined;
    let problemAt = 0;
    let at = 0;
    let next = expected;
    // Bounded: each step consumes at least a header's bytes of the window.
    while (at + RECORD_BATCH_HEADER_BYTES <= filled) {
      const left = fileBytes - (windowStart + at);
      const size = window.readInt32BE(at + BATCH_FIELD.batchLength) + LOG_OVERHEAD_BYTES;
      if (size < RECORD_BATCH_HEADER_BYTES) {
        problem = {
          reason: `batch length ${size - LOG_OVERHEAD_BYTES} is smaller than a header`,
          crcFirst: false,
        };
      } else if (size > left) {
        problem = {
          reason: `torn batch: length says ${size} bytes but only ${left} remain in the file`,
          crcFirst: false,
        };
      } else if (at + size > filled) {
        break;
      } else {
        problem = structuralProblem(window, at, next);
      }
      if (problem !== undefined) {
        problemAt = at;
        break;
      }
      starts.push(at);
      sizes.push(size);
      next += BigInt(window.readInt32BE(at + BATCH_FIELD.recordsCount));
      at += size;
    }
    const checkProblemCrc = problem?.crcFirst === true;
    if (starts.length > 0 || checkProblemCrc) {
      const count = starts.length + (checkProblemCrc ? 1 : 0);
      const ranges = new Int32Array(count * 2);
      for (let index = 0; index < starts.length; index++) {
        ranges[2 * index] = starts[index]! + CRC_START_BYTE;
        ranges[2 * index + 1] = starts[index]! + sizes[index]!;
      }
      if (checkProblemCrc) {
        const size = window.readInt32BE(problemAt + BATCH_FIELD.batchLength) + LOG_OVERHEAD_BYTES;
        ranges[2 * starts.length] = problemAt + CRC_START_BYTE;
        ranges[2 * starts.length + 1] = problemAt + size;
      }
      const crcs = await checksumRanges(window, ranges);
      for (let index = 0; index < starts.length; index++) {
        const batchAt = starts[index]!;
        const stored = window.readUInt32BE(batchAt + BATCH_FIELD.crc);
        if (crcs[index] !== stored) {
          return stop(crcMismatch(stored, crcs[index]!));
        }
        const recordCount = window.readInt32BE(batchAt + BATCH_FIELD.recordsCount);
        const timestampMsMax = Number(window.readBigInt64BE(batchAt + BATCH_FIELD.maxTimestamp));
        visit?.(position, sizes[index]!, expected, recordCount, timestampMsMax);
        expected += BigInt(recordCount);
        position += sizes[index]!;
      }
      if (checkProblemCrc) {
        const stored = window.readUInt32BE(problemAt + BATCH_FIELD.crc);
        if (crcs[starts.length] !== stored) {
          return stop(crcMismatch(stored, crcs[starts.length]!));
        }
      }
    }
    if (problem !== undefined) {
      return stop(problem.reason);
    }
    if (starts.length > 0) {
      continue;
    }
    // The first batch is larger than the window (or the file ended inside it).
    const size = window.readInt32BE(BATCH_FIELD.batchLength) + LOG_OVERHEAD_BYTES;
    const baseOffset = window.readBigInt64BE(BATCH_FIELD.baseOffset);
    const recordCount = window.readInt32BE(BATCH_FIELD.recordsCount);
    const timestampMsMax = Number(window.readBigInt64BE(BATCH_FIELD.maxTimestamp));
    const large = await checkLargeBatch(fileSystem, fd, window, position, size);
    if (large !== undefined) {
      return stop(large);
    }
    if (baseOffset !== expected) {
      return stop(`base offset ${baseOffset} breaks the dense sequence, expected ${expected}`);
    }
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
  const problem =
    magicProblem(header.readInt8(BATCH_FIELD.magic)) ??
    denseCountProblem(
      header.readInt32BE(BATCH_FIELD.recordsCount),
      header.readInt32BE(BATCH_FIELD.lastOffsetDelta),
    );
  if (problem !== undefined) return problem;
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
  return crc === stored ? undefined : crcMismatch(stored, crc);
}
