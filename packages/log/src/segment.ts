/**
 * One segment of a partition: the log file `<baseOffset>.log` (20 zero-padded digits, Kafka
 * style) holding RecordBatch v2 bytes back to back, plus its sparse `.index` and `.timeindex`.
 *
 * Byte positions inside a segment are numbers below 2^31 (Kafka's limit, because index entries
 * store 32-bit positions); offsets are bigints. Only the partition's single writer changes a
 * segment; reads take a reference so a segment deleted by retention is closed only after the
 * reads that started before its deletion have finished.
 */

import path from 'node:path';
import { invariant } from './errors.ts';
import { type FileSystem, readFully, writeFully } from './file-system.ts';
import { OffsetIndex } from './offset-index.ts';
import { TimeIndex } from './time-index.ts';

/** Largest segment size in bytes (index positions are 32-bit, kept below 2^31 like Kafka). */
export const SEGMENT_BYTES_LIMIT = 0x7fffffff;
/** Largest number of offsets in one segment (index offsets are relative uint32). */
export const SEGMENT_OFFSETS_LIMIT = 0xffffffff;

const OFFSET_DIGITS = 20;

/** File name of a segment file: base offset in 20 digits plus `.log`, `.index` or `.timeindex`. */
export function segmentFileName(baseOffset: bigint, extension: '.log' | '.index' | '.timeindex'): string {
  return `${baseOffset.toString().padStart(OFFSET_DIGITS, '0')}${extension}`;
}

/** The base offset encoded in a `.log` file name, or undefined for other names. */
export function parseSegmentFileName(name: string): bigint | undefined {
  const match = /^(\d{20})\.log$/.exec(name);
  return match === null ? undefined : BigInt(match[1]!);
}

/** One open segment and its in-memory indexes. */
export class Segment {
  /** Offset of the segment's first record; also its file name. */
  readonly baseOffset: bigint;
  /** Path of the `.log` file. */
  readonly logPath: string;
  /** Path of the `.index` file. */
  readonly indexPath: string;
  /** Path of the `.timeindex` file. */
  readonly timeIndexPath: string;
  /** Open descriptor of the `.log` file (read/write). */
  readonly fd: number;
  /** Bytes written to the log file. */
  sizeBytes: number;
  /** Bytes readers may see (durable under the fsync policy); never above `sizeBytes`. */
  readableBytes: number;
  /** Offset after the last written record. */
  nextOffset: bigint;
  /** Largest record timestamp in the segment; -Infinity while empty. */
  timestampMsMax = Number.NEGATIVE_INFINITY;
  /** When the segment's age for rolling started (first append, or reopen), ms since the epoch. */
  ageStartMs: number;
  /** Sparse offset index. */
  offsetIndex = new OffsetIndex();
  /** Sparse time index. */
  timeIndex = new TimeIndex();
  readonly #indexIntervalBytes: number;
  #bytesSinceIndexEntry = 0;
  #readers = 0;
  #drained: (() => void) | undefined;

  constructor(
    directory: string,
    baseOffset: bigint,
    fd: number,
    sizeBytes: number,
    indexIntervalBytes: number,
    nowMs: number,
  ) {
    this.baseOffset = baseOffset;
    this.logPath = path.join(directory, segmentFileName(baseOffset, '.log'));
    this.indexPath = path.join(directory, segmentFileName(baseOffset, '.index'));
    this.timeIndexPath = path.join(directory, segmentFileName(baseOffset, '.timeindex'));
    this.fd = fd;
    this.sizeBytes = sizeBytes;
    this.readableBytes = sizeBytes;
    this.nextOffset = baseOffset;
    this.ageStartMs = nowMs;
    this.#indexIntervalBytes = indexIntervalBytes;
  }

  /** Number of records (offsets) written to this segment. */
  get recordCount(): number {
    return Number(this.nextOffset - this.baseOffset);
  }

  /**
   * Accounts for a batch written (or found by recovery) at `position`: advances size and next
   * offset and adds index entries every `indexIntervalBytes`.
   */
  noteBatch(
    position: number,
    sizeBytes: number,
    baseOffset: bigint,
    recordCount: number,
    timestampMsMax: number,
  ): void {
    invariant(
      position === this.sizeBytes || position < this.sizeBytes,
      'batch lies inside the written bytes',
    );
    invariant(baseOffset === this.nextOffset, 'batch offsets follow the segment densely');
    if (this.offsetIndex.count === 0 || this.#bytesSinceIndexEntry >= this.#indexIntervalBytes) {
      const relativeOffset = Number(baseOffset - this.baseOffset);
      this.offsetIndex.append(relativeOffset, position);
      // Time entry (largest timestamp before this batch, this batch's offset): see time-index.ts.
      if (this.timestampMsMax > this.timeIndex.lastTimestampMs) {
        this.timeIndex.append(this.timestampMsMax, relativeOffset);
      }
      this.#bytesSinceIndexEntry = 0;
    }
    this.#bytesSinceIndexEntry += sizeBytes;
    if (timestampMsMax > this.timestampMsMax) {
      this.timestampMsMax = timestampMsMax;
    }
    this.nextOffset = baseOffset + BigInt(recordCount);
    this.sizeBytes = Math.max(this.sizeBytes, position + sizeBytes);
  }

  /** Installs indexes loaded from disk for a segment whose content was validated up to `sizeBytes`. */
  adoptIndexes(offsetIndex: OffsetIndex, timeIndex: TimeIndex, nextOffset: bigint): void {
    this.offsetIndex = offsetIndex;
    this.timeIndex = timeIndex;
    this.nextOffset = nextOffset;
    this.timestampMsMax = timeIndex.lastTimestampMs;
    const last = offsetIndex.count === 0 ? 0 : offsetIndex.positionAt(offsetIndex.count - 1);
    this.#bytesSinceIndexEntry = this.sizeBytes - last;
  }

  /** Writes both index files (the final time-index entry first) and fdatasyncs them. */
  async writeIndexFiles(fileSystem: FileSystem): Promise<void> {
    if (this.recordCount > 0) {
      this.timeIndex.finish(this.timestampMsMax, this.recordCount);
    }
    for (const [file, bytes] of [
      [this.indexPath, this.offsetIndex.encode()],
      [this.timeIndexPath, this.timeIndex.encode()],
    ] as const) {
      const fd = await fileSystem.open(file, 'w');
      try {
        await writeFully(fileSystem, fd, [bytes], 0);
        await fileSystem.fdatasync(fd);
      } finally {
        await fileSystem.close(fd);
      }
    }
  }

  /** Reads `length` bytes at `position` (fewer only at end of file). */
  async read(fileSystem: FileSystem, position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    const count = await readFully(fileSystem, this.fd, buffer, length, position);
    return count === length ? buffer : buffer.subarray(0, count);
  }

  /** Registers a reader; pair with {@link Segment.releaseReader}. */
  acquireReader(): void {
    this.#readers++;
  }

  /** Unregisters a reader. */
  releaseReader(): void {
    invariant(this.#readers > 0, 'segment reader count stays non-negative');
    this.#readers--;
    if (this.#readers === 0 && this.#drained !== undefined) {
      this.#drained();
      this.#drained = undefined;
    }
  }

  /** Resolves once no read is using the segment. */
  whenIdle(): Promise<void> {
    if (this.#readers === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#drained = resolve;
    });
  }

  /** Closes the descriptor after in-flight reads finish. */
  async close(fileSystem: FileSystem): Promise<void> {
    await this.whenIdle();
    await fileSystem.close(this.fd);
  }

  /** Closes the segment and removes its three files. */
  async delete(fileSystem: FileSystem): Promise<void> {
    await this.close(fileSystem);
    await removeSegmentFiles(fileSystem, this.logPath);
  }
}

/** Removes a segment's `.log`, `.index` and `.timeindex`, ignoring files already gone. */
export async function removeSegmentFiles(fileSystem: FileSystem, logPath: string): Promise<void> {
  const stem = logPath.slice(0, -'.log'.length);
  for (const file of [`${stem}.index`, `${stem}.timeindex`, logPath]) {
    await fileSystem.unlink(file).catch(() => {});
  }
}
