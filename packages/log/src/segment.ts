/**
 * One segment of a partition: the log file `<baseOffset>.log` (20 zero-padded digits, Kafka
 * style) holding RecordBatch v2 bytes back to back, plus its sparse `.index` and `.timeindex`.
 *
 * Byte positions inside a segment are numbers below 2^31 (Kafka's limit, because index entries
 * store 32-bit positions); offsets are bigints. Only the partition's single writer changes a
 * segment; reads take a reference so a segment deleted by retention is closed only after the
 * reads that started before its deletion have finished.
 *
 * A closed (rolled) segment may be cold: its descriptor closed and its indexes dropped from
 * memory, so what a partition holds does not grow with the data it retains (segment-residency.ts
 * decides which). {@link Segment.warm} reopens it and reloads the index files before a read; the
 * active segment is never cold.
 */

import path from 'node:path';
import { invariant, ioError, LogError, systemErrorCode } from './errors.ts';
import { type FileSystem, readFully, writeFully } from './file-system.ts';
import { decodeOffsetIndex, OffsetIndex } from './offset-index.ts';
import { scanSegmentFile } from './segment-scan.ts';
import { decodeTimeIndex, TimeIndex } from './time-index.ts';

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
  #fd: number | undefined;
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
  #offsetIndex: OffsetIndex | undefined = new OffsetIndex();
  #timeIndex: TimeIndex | undefined = new TimeIndex();
  /** Set while {@link Segment.warm} reopens a cold segment, so concurrent reads share it. */
  #warming: Promise<void> | undefined;
  /** Most recent {@link Segment.warm} (a counter of the partition's residency, not a time). */
  lastUseTick = 0;
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
    this.#fd = fd;
    this.sizeBytes = sizeBytes;
    this.readableBytes = sizeBytes;
    this.nextOffset = baseOffset;
    this.ageStartMs = nowMs;
    this.#indexIntervalBytes = indexIntervalBytes;
  }

  /** Open descriptor of the `.log` file (read/write); only a warm segment has one. */
  get fd(): number {
    invariant(this.#fd !== undefined, 'a segment is warm when its descriptor is used');
    return this.#fd;
  }

  /** Sparse offset index; only a warm segment has it in memory. */
  get offsetIndex(): OffsetIndex {
    invariant(this.#offsetIndex !== undefined, 'a segment is warm when its offset index is used');
    return this.#offsetIndex;
  }

  /** Sparse time index; only a warm segment has it in memory. */
  get timeIndex(): TimeIndex {
    invariant(this.#timeIndex !== undefined, 'a segment is warm when its time index is used');
    return this.#timeIndex;
  }

  /** Whether the descriptor is open and the indexes are in memory. */
  get isWarm(): boolean {
    return this.#fd !== undefined && this.#offsetIndex !== undefined && this.#warming === undefined;
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
    this.#offsetIndex = offsetIndex;
    this.#timeIndex = timeIndex;
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

  /**
   * Makes a closed segment warm for a read: reopens its descriptor (read-only) and reloads its
   * index files. A reloaded index is checked like at open (decodeOffsetIndex); one that fails the
   * checks (removed or damaged behind the log's back) is rebuilt in memory by a validating scan.
   * The caller holds a reader reference, so the segment cannot go cold again meanwhile.
   */
  warm(fileSystem: FileSystem): Promise<void> {
    if (this.isWarm) return Promise.resolve();
    this.#warming ??= this.#reopen(fileSystem).finally(() => {
      this.#warming = undefined;
    });
    return this.#warming;
  }

  async #reopen(fileSystem: FileSystem): Promise<void> {
    if (this.#fd === undefined) {
      try {
        this.#fd = await fileSystem.open(this.logPath, 'r');
      } catch (error) {
        throw ioError(`cannot reopen segment ${this.logPath}`, error);
      }
    }
    if (this.#offsetIndex !== undefined && this.#timeIndex !== undefined) return;
    const [indexBytes, timeBytes] = [
      await readIndexFile(fileSystem, this.indexPath),
      await readIndexFile(fileSystem, this.timeIndexPath),
    ];
    const offsetIndex =
      indexBytes === undefined ? 'missing' : decodeOffsetIndex(indexBytes, this.recordCount, this.sizeBytes);
    const timeIndex = timeBytes === undefined ? 'missing' : decodeTimeIndex(timeBytes, this.recordCount);
    if (typeof offsetIndex !== 'string' && typeof timeIndex !== 'string') {
      this.#offsetIndex = offsetIndex;
      this.#timeIndex = timeIndex;
      return;
    }
    await this.#rebuildIndexes(fileSystem);
  }

  /** Rebuilds both indexes of a closed segment from its log, as recovery does for a missing index. */
  async #rebuildIndexes(fileSystem: FileSystem): Promise<void> {
    const offsetIndex = new OffsetIndex();
    const timeIndex = new TimeIndex();
    let bytesSinceEntry = 0;
    let timestampMsMax = Number.NEGATIVE_INFINITY;
    const scanned = await scanSegmentFile(
      fileSystem,
      this.fd,
      this.sizeBytes,
      0,
      this.baseOffset,
      (position, size, base, _count, batchTimestampMsMax) => {
        if (offsetIndex.count === 0 || bytesSinceEntry >= this.#indexIntervalBytes) {
          const relativeOffset = Number(base - this.baseOffset);
          offsetIndex.append(relativeOffset, position);
          if (timestampMsMax > timeIndex.lastTimestampMs) timeIndex.append(timestampMsMax, relativeOffset);
          bytesSinceEntry = 0;
        }
        bytesSinceEntry += size;
        if (batchTimestampMsMax > timestampMsMax) timestampMsMax = batchTimestampMsMax;
      },
    );
    if (scanned.problem !== undefined || scanned.nextOffset !== this.nextOffset) {
      // A rolled segment was synced before the roll: damage in it is corruption, not a torn write.
      throw new LogError(
        'LOG_CORRUPT',
        `log corrupt in ${this.logPath} at byte ${scanned.problem?.position ?? scanned.endPosition} while rebuilding its missing index: ${scanned.problem?.reason ?? 'the log ends before its last offset'}; restore it from a replica or backup, or move the damaged segment away to accept the loss`,
      );
    }
    if (this.recordCount > 0) timeIndex.finish(timestampMsMax, this.recordCount);
    this.#offsetIndex = offsetIndex;
    this.#timeIndex = timeIndex;
  }

  /**
   * Makes a closed, idle segment cold: closes its descriptor and drops its indexes. Returns false
   * (and does nothing) while a read holds it or it is being warmed. Never call it on the active
   * segment, whose indexes are the only copy of entries not yet written to disk.
   */
  async cool(fileSystem: FileSystem): Promise<boolean> {
    if (this.#readers > 0 || this.#warming !== undefined || this.#fd === undefined) return false;
    const fd = this.#fd;
    // Dropped synchronously, so a read starting while the close runs reopens the segment.
    this.#fd = undefined;
    this.#offsetIndex = undefined;
    this.#timeIndex = undefined;
    await fileSystem.close(fd);
    return true;
  }

  /** Closes the descriptor (if open) after in-flight reads finish. */
  async close(fileSystem: FileSystem): Promise<void> {
    await this.whenIdle();
    await this.#warming?.catch(() => {});
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) await fileSystem.close(fd);
  }

  /** Closes the segment and removes its three files. */
  async delete(fileSystem: FileSystem): Promise<void> {
    await this.close(fileSystem);
    await removeSegmentFiles(fileSystem, this.logPath);
  }
}

/** The bytes of an index file, or undefined when it is missing. */
async function readIndexFile(fileSystem: FileSystem, file: string): Promise<Uint8Array | undefined> {
  try {
    return await fileSystem.readFile(file);
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') return undefined;
    throw ioError(`cannot read index ${file}`, error);
  }
}

/** Removes a segment's `.log`, `.index` and `.timeindex`, ignoring files already gone. */
export async function removeSegmentFiles(fileSystem: FileSystem, logPath: string): Promise<void> {
  const stem = logPath.slice(0, -'.log'.length);
  for (const file of [`${stem}.index`, `${stem}.timeindex`, logPath]) {
    await fileSystem.unlink(file).catch(() => {});
  }
}
