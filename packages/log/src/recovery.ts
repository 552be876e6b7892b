/**
 * Opening a partition directory after a clean close or a crash.
 *
 * Segments wholly below the recovery point were fsynced before the point was checkpointed: their
 * indexes are loaded and checked, and only the tail after the last index entry is re-validated.
 * Any damage found there is corruption of acknowledged data, reported as `LOG_CORRUPT` with the
 * file and byte position, never silently truncated. From the segment holding the recovery point to
 * the end, every batch is validated; the first bad batch at or above the recovery point marks a
 * torn or garbage tail, which is truncated (together with any later segment, since offsets must
 * stay dense). Missing or damaged index files are rebuilt from the log. Everything kept is
 * fdatasynced before open resolves.
 *
 * The new recovery point is not checkpointed here: the partition's writer writes it after open, at
 * its first sync (checkpoint-scheduler.ts `dueAtOnce`), a roll, retention or the close, as Kafka
 * writes its recovery-point checkpoint periodically, not on open. Nothing needs it sooner:
 * until it is written the old checkpoint (or none) stays, which is still true (recovery never
 * cuts below the old recovery point, it refuses instead), so a crash before it only means the
 * next open validates the same bytes again, exactly as acknowledged appends above the recovery
 * point are validated again until the next periodic checkpoint. Writing it at open created a file
 * per partition (the checkpoint's `.tmp`): creating files was the largest part of the system CPU
 * of recovering 400 partitions (docs/benchmarks.md, "Recovery without a file per partition").
 */

import path from 'node:path';
import { ioError, LogError, systemErrorCode } from './errors.ts';
import { type FileSystem, syncDirectory } from './file-system.ts';
import { decodeOffsetIndex } from './offset-index.ts';
import {
  CHECKPOINT_FILE_NAME,
  type PartitionCheckpoint,
  readPartitionCheckpoint,
  writePartitionCheckpoint,
} from './partition-checkpoint.ts';
import { parseSegmentFileName, removeSegmentFiles, Segment, segmentFileName } from './segment.ts';
import { type ScanResult, scanSegmentFile } from './segment-scan.ts';
import { decodeTimeIndex } from './time-index.ts';

/** What recovery found and did; exposed on the partition for operators and tests. */
export interface RecoveryReport {
  /** `clean` (checkpoint matched the files), `unclean` (tail validated), `missing` or `damaged`. */
  readonly checkpoint: 'clean' | 'unclean' | 'missing' | 'damaged';
  /** Set when a torn or garbage tail was cut off. */
  readonly truncation:
    | {
        readonly file: string;
        readonly position: number;
        readonly bytesRemoved: number;
        readonly reason: string;
      }
    | undefined;
  /** Files removed: leftovers of retention or temporary files, and segments after a truncation. */
  readonly removedFiles: readonly string[];
  /** Log files whose `.index`/`.timeindex` were missing or damaged and were rebuilt. */
  readonly rebuiltIndexes: readonly string[];
  /** Bytes of log validated batch by batch. */
  readonly scannedBytes: number;
}

/** Result of {@link recoverPartition}. */
export interface RecoveredPartition {
  /** Open segments in offset order; the last one is active. */
  readonly segments: Segment[];
  /** First stored offset. */
  readonly logStartOffset: bigint;
  /** What happened. */
  readonly report: RecoveryReport;
  /**
   * Whether the checkpoint on disk is older than what recovery validated and synced; the
   * partition then writes the new one after open (see the module comment).
   */
  readonly checkpointPending: boolean;
}

interface RecoveryContext {
  readonly fileSystem: FileSystem;
  readonly directory: string;
  readonly indexIntervalBytes: number;
  readonly nowMs: number;
  readonly removedFiles: string[];
  readonly rebuiltIndexes: string[];
  scannedBytes: number;
}

function corrupt(file: string, position: number, offset: bigint, reason: string): LogError {
  return new LogError(
    'LOG_CORRUPT',
    `log corrupt in ${file} at byte ${position} (offset ${offset}, below the durable recovery point): ${reason}; ` +
      'acknowledged data is damaged, so the partition is not served; restore it from a replica or backup, or move the damaged segment away to accept the loss',
  );
}

async function openSegmentFile(context: RecoveryContext, baseOffset: bigint): Promise<Segment> {
  const logPath = path.join(context.directory, segmentFileName(baseOffset, '.log'));
  try {
    const fd = await context.fileSystem.open(logPath, 'r+');
    const stats = await context.fileSystem.stat(logPath);
    return new Segment(
      context.directory,
      baseOffset,
      fd,
      stats.size,
      context.indexIntervalBytes,
      context.nowMs,
    );
  } catch (error) {
    throw ioError(`cannot open segment ${logPath}`, error);
  }
}

async function readOptional(fileSystem: FileSystem, file: string): Promise<Uint8Array | undefined> {
  try {
    return await fileSystem.readFile(file);
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') {
      return undefined;
    }
    throw ioError(`cannot read index ${file}`, error);
  }
}

/**
 * Loads the index files of a segment believed to hold `recordCount` durable records in all its
 * bytes, then validates the tail after the last index entry. Resolves false when the indexes are
 * missing or inconsistent, or the tail does not check out: the caller then validates the whole
 * segment, which rebuilds the indexes or reports corruption.
 */
async function loadIndexes(
  context: RecoveryContext,
  segment: Segment,
  recordCount: number,
): Promise<boolean> {
  const indexBytes = await readOptional(context.fileSystem, segment.indexPath);
  const timeBytes = await readOptional(context.fileSystem, segment.timeIndexPath);
  if (indexBytes === undefined || timeBytes === undefined) {
    return false;
  }
  const offsetIndex = decodeOffsetIndex(indexBytes, recordCount, segment.sizeBytes);
  const timeIndex = decodeTimeIndex(timeBytes, recordCount);
  if (typeof offsetIndex === 'string' || typeof timeIndex === 'string') {
    return false;
  }
  if (offsetIndex.count === 0) {
    segment.adoptIndexes(offsetIndex, timeIndex, segment.baseOffset);
    return true;
  }
  const lastEntry = offsetIndex.count - 1;
  const fromPosition = offsetIndex.positionAt(lastEntry);
  const fromOffset = segment.baseOffset + BigInt(offsetIndex.relativeOffsetAt(lastEntry));
  const tail = await scanSegmentFile(
    context.fileSystem,
    segment.fd,
    segment.sizeBytes,
    fromPosition,
    fromOffset,
  );
  context.scannedBytes += tail.endPosition - fromPosition;
  // Any problem after the last index entry: let the full scan decide between a wrong index and
  // a damaged log (which it reports as corruption below the recovery point).
  if (tail.problem !== undefined) {
    return false;
  }
  if (tail.nextOffset !== segment.baseOffset + BigInt(recordCount)) {
    return false;
  }
  segment.adoptIndexes(offsetIndex, timeIndex, tail.nextOffset);
  return true;
}

/** Validates the whole segment from byte 0, rebuilding its in-memory indexes. */
async function scanWhole(context: RecoveryContext, segment: Segment): Promise<ScanResult> {
  const result = await scanSegmentFile(
    context.fileSystem,
    segment.fd,
    segment.sizeBytes,
    0,
    segment.baseOffset,
    (position, size, baseOffset, count, timestampMsMax) =>
      segment.noteBatch(position, size, baseOffset, count, timestampMsMax),
  );
  context.scannedBytes += result.endPosition;
  return result;
}

async function removeFile(context: RecoveryContext, name: string): Promise<void> {
  await context.fileSystem.unlink(path.join(context.directory, name)).catch(() => {});
  context.removedFiles.push(name);
}

/**
 * Opens every segment of the partition in `directory`, validating and repairing as described in
 * the module comment, and checkpoints the new recovery point. Creates the first segment of an
 * empty directory.
 */
export async function recoverPartition(
  fileSystem: FileSystem,
  directory: string,
  indexIntervalBytes: number,
  nowMs: number,
): Promise<RecoveredPartition> {
  const context: RecoveryContext = {
    fileSystem,
    directory,
    indexIntervalBytes,
    nowMs,
    removedFiles: [],
    rebuiltIndexes: [],
    scannedBytes: 0,
  };
  let names: string[];
  try {
    names = await fileSystem.readdir(directory);
  } catch (error) {
    throw ioError(`cannot list partition directory ${directory}`, error);
  }
  for (const name of names) {
    if (name.endsWith('.tmp') || name.endsWith('.deleted')) {
      await removeFile(context, name);
    }
  }
  let bases = names
    .map(parseSegmentFileName)
    .filter((base): base is bigint => base !== undefined)
    .sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
  const logNames = new Set(bases.map((base) => segmentFileName(base, '.log')));
  for (const name of names) {
    const stem = /^(\d{20})\.(index|timeindex)$/.exec(name);
    if (stem !== null && !logNames.has(`${stem[1]}.log`)) {
      await removeFile(context, name);
    }
  }
  const stored = await readPartitionCheckpoint(fileSystem, directory);
  const checkpoint = typeof stored === 'object' ? stored : undefined;
  const status: RecoveryReport['checkpoint'] =
    stored === undefined ? 'missing' : typeof stored === 'string' ? 'damaged' : 'unclean';
  let logStartOffset = checkpoint?.logStartOffset ?? bases[0] ?? 0n;
  // Retention checkpoints the new log start before deleting files; finish deletions a crash interrupted.
  while (bases.length > 1 && bases[1]! <= logStartOffset) {
    await removeSegmentFiles(fileSystem, path.join(directory, segmentFileName(bases[0]!, '.log')));
    context.removedFiles.push(segmentFileName(bases[0]!, '.log'));
    bases = bases.slice(1);
  }
  const segments: Segment[] = [];
  if (bases.length === 0) {
    segments.push(await createSegment(fileSystem, directory, logStartOffset, indexIntervalBytes, nowMs));
    await writePartitionCheckpoint(fileSystem, directory, {
      logStartOffset,
      recoveryPoint: logStartOffset,
      recoveryPointPosition: 0,
    });
    return {
      segments,
      logStartOffset,
      report: report(status, undefined, context),
      checkpointPending: false,
    };
  }
  if (bases[0]! > logStartOffset) {
    logStartOffset = bases[0]!;
  }
  let recoveryPoint = checkpoint?.recoveryPoint ?? bases[0]!;
  if (recoveryPoint < bases[0]!) {
    recoveryPoint = bases[0]!;
  }
  try {
    return await recoverSegments(context, bases, logStartOffset, recoveryPoint, checkpoint, status, segments);
  } catch (error) {
    for (const segment of segments) {
      await fileSystem.close(segment.fd).catch(() => {});
    }
    throw error;
  }
}

async function recoverSegments(
  context: RecoveryContext,
  bases: readonly bigint[],
  logStartOffset: bigint,
  recoveryPoint: bigint,
  checkpoint: PartitionCheckpoint | undefined,
  initialStatus: RecoveryReport['checkpoint'],
  segments: Segment[],
): Promise<RecoveredPartition> {
  const { fileSystem, directory } = context;
  let status = initialStatus;
  let truncation: RecoveryReport['truncation'];
  let needsSync = false;
  for (let index = 0; index < bases.length; index++) {
    const base = bases[index]!;
    const next = bases[index + 1];
    const segment = await openSegmentFile(context, base);
    const previous = segments.at(-1);
    segments.push(segment);
    if (previous !== undefined && previous.nextOffset !== base) {
      // Rolled segments are fsynced before the next one is created, so a gap is never a torn write.
      throw corrupt(
        previous.logPath,
        previous.sizeBytes,
        previous.nextOffset,
        `segment ends at offset ${previous.nextOffset} but the next one starts at ${base}`,
      );
    }
    if (next !== undefined && next <= recoveryPoint) {
      // Wholly durable: trust the indexes if they check out, otherwise rebuild; damage is corruption.
      if (!(await loadIndexes(context, segment, Number(next - base)))) {
        const scanned = await scanWhole(context, segment);
        if (scanned.problem !== undefined) {
          throw corrupt(
            segment.logPath,
            scanned.problem.position,
            scanned.problem.offset,
            scanned.problem.reason,
          );
        }
        await segment.writeIndexFiles(fileSystem);
        context.rebuiltIndexes.push(segment.logPath);
      }
      continue;
    }
    const clean =
      checkpoint !== undefined &&
      next === undefined &&
      base <= recoveryPoint &&
      segment.sizeBytes === checkpoint.recoveryPointPosition &&
      (await loadIndexes(context, segment, Number(recoveryPoint - base)));
    if (clean) {
      status = 'clean';
      continue;
    }
    const scanned = await scanWhole(context, segment);
    needsSync = true;
    if (scanned.problem === undefined) {
      continue;
    }
    // Below the recovery point, or in a segment that was rolled (hence fsynced), damage is not a
    // torn write: refuse rather than cut acknowledged data.
    if (scanned.problem.offset < recoveryPoint || next !== undefined) {
      throw corrupt(
        segment.logPath,
        scanned.problem.position,
        scanned.problem.offset,
        scanned.problem.reason,
      );
    }
    truncation = {
      file: segment.logPath,
      position: scanned.endPosition,
      bytesRemoved: segment.sizeBytes - scanned.endPosition,
      reason: scanned.problem.reason,
    };
    try {
      await fileSystem.ftruncate(segment.fd, scanned.endPosition);
    } catch (error) {
      throw ioError(`cannot truncate the torn tail of ${segment.logPath}`, error);
    }
    segment.sizeBytes = scanned.endPosition;
    segment.readableBytes = scanned.endPosition;
    await dropFrom(context, bases.slice(index + 1));
    break;
  }
  const active = segments.at(-1)!;
  await finishActive(context, active);
  const end: PartitionCheckpoint = {
    logStartOffset,
    recoveryPoint: active.nextOffset,
    recoveryPointPosition: active.sizeBytes,
  };
  const checkpointPending = !(
    status === 'clean' &&
    checkpoint !== undefined &&
    sameCheckpoint(checkpoint, end)
  );
  try {
    if (needsSync) {
      // Data found after a crash may still be only in the page cache: make it durable before
      // moving the recovery point over it.
      for (const segment of segments) {
        if (segment.baseOffset + BigInt(segment.recordCount) > recoveryPoint || segment === active) {
          await fileSystem.fdatasync(segment.fd);
        }
      }
    }
    if (context.removedFiles.length > 0 || truncation !== undefined) {
      // Removals and a truncation are durable before open resolves, like the data, so no later
      // checkpoint can rely on files a crash brings back. Nothing else changed the directory's
      // entries (segment files were made durable when created), so without them it is not synced:
      // 400 recovering partitions spent 400 directory fsyncs on it (docs/benchmarks.md).
      await syncDirectory(fileSystem, directory);
    }
  } catch (error) {
    throw ioError(`cannot sync recovered partition ${directory}`, error);
  }
  return {
    segments,
    logStartOffset,
    report: report(status, truncation, context),
    checkpointPending,
  };
}

function sameCheckpoint(left: PartitionCheckpoint, right: PartitionCheckpoint): boolean {
  return (
    left.logStartOffset === right.logStartOffset &&
    left.recoveryPoint === right.recoveryPoint &&
    left.recoveryPointPosition === right.recoveryPointPosition
  );
}

/** Sets the rolling age of the reopened active segment from its first batch's timestamp. */
async function finishActive(context: RecoveryContext, active: Segment): Promise<void> {
  if (active.sizeBytes < 61) {
    return;
  }
  const header = await active.read(context.fileSystem, 0, 61);
  const firstTimestampMs = Number(header.readBigInt64BE(35));
  if (Number.isFinite(firstTimestampMs) && firstTimestampMs > 0 && firstTimestampMs < active.ageStartMs) {
    active.ageStartMs = firstTimestampMs;
  }
}

async function dropFrom(context: RecoveryContext, bases: readonly bigint[]): Promise<void> {
  for (const base of bases) {
    const name = segmentFileName(base, '.log');
    await removeSegmentFiles(context.fileSystem, path.join(context.directory, name));
    context.removedFiles.push(name);
  }
}

/** Creates an empty segment file (failing if it exists) and makes its directory entry durable. */
export async function createSegment(
  fileSystem: FileSystem,
  directory: string,
  baseOffset: bigint,
  indexIntervalBytes: number,
  nowMs: number,
): Promise<Segment> {
  const logPath = path.join(directory, segmentFileName(baseOffset, '.log'));
  try {
    const fd = await fileSystem.open(logPath, 'wx+');
    await syncDirectory(fileSystem, directory);
    return new Segment(directory, baseOffset, fd, 0, indexIntervalBytes, nowMs);
  } catch (error) {
    throw ioError(`cannot create segment ${logPath}`, error);
  }
}

function report(
  checkpoint: RecoveryReport['checkpoint'],
  truncation: RecoveryReport['truncation'],
  context: RecoveryContext,
): RecoveryReport {
  return {
    checkpoint,
    truncation,
    removedFiles: context.removedFiles,
    rebuiltIndexes: context.rebuiltIndexes,
    scannedBytes: context.scannedBytes,
  };
}

export { CHECKPOINT_FILE_NAME };
