/**
 * Options of a partition, their defaults, and their validation. Invalid options are programmer
 * errors reported at open with `LOG_INVALID_ARGUMENT` and a message naming the option.
 */

import { LogError } from './errors.ts';
import { type FileSystem, nodeFileSystem } from './file-system.ts';
import { SEGMENT_BYTES_LIMIT } from './segment.ts';
import { CLOSED_SEGMENTS_WARM_MAX_DEFAULT } from './segment-residency.ts';

/**
 * When appends become durable and are acknowledged.
 * - `'always'`: each append resolves after fdatasync; concurrent appends share one sync (group
 *   commit). Loss window: none for acknowledged appends.
 * - `{ intervalMs }`: an append resolves once written to the kernel; data is fdatasynced every
 *   `intervalMs`, and readers see it only after that sync. Loss window: a process crash loses
 *   nothing acknowledged; an OS crash or power loss loses up to `intervalMs` of acknowledged appends.
 * - `'never'`: resolves once written to the kernel, visible to readers at once; synced only on
 *   segment roll and close. Loss window: an OS crash or power loss loses every acknowledged append
 *   since the last roll or clean close.
 */
export type FsyncPolicy = 'always' | 'never' | { readonly intervalMs: number };

/** Options of {@link openPartition}. Sizes are bytes, durations milliseconds. */
export interface PartitionOptions {
  /** Directory holding the partition's segments; created if missing and locked while open. */
  readonly directory: string;
  /** Durability policy; default `'always'`. */
  readonly fsync?: FsyncPolicy;
  /** Roll to a new segment before one would exceed this size. Default 1 GiB, at most 2^31 - 1. */
  readonly segmentBytesMax?: number;
  /** Roll a non-empty segment this long after its first append. Default 7 days. */
  readonly segmentAgeMsMax?: number;
  /** Delete closed segments whose newest record is older than this. Default Infinity (keep). */
  readonly retentionMs?: number;
  /** Delete the oldest closed segments while the partition is larger than this. Default Infinity. */
  readonly retentionBytes?: number;
  /** Largest key + value + headers of one record. Default 1 MiB. */
  readonly recordBytesMax?: number;
  /** Largest encoded batch. Default 8 MiB. */
  readonly batchBytesMax?: number;
  /** Bytes of log between sparse index entries. Default 4096. */
  readonly indexIntervalBytes?: number;
  /**
   * Most closed segments kept warm (descriptor open, indexes in memory) besides the active one;
   * the others are reopened when read. Bounds what the partition holds whatever it retains (see
   * segment-residency.ts). Default 4.
   */
  readonly closedSegmentsWarmMax?: number;
  /** Most bytes of appends waiting to be written and synced; beyond it appends fail with retriable `LOG_QUEUE_FULL`. Default 64 MiB. */
  readonly appendQueueBytesMax?: number;
  /** Most appends waiting to be written and synced. Default 65536. */
  readonly appendQueueCountMax?: number;
  /** PartitionLeaderEpoch stamped on every stored batch. Default 0. */
  readonly leaderEpoch?: number;
  /** How often the recovery point is checkpointed while appending. Default 5000. */
  readonly checkpointIntervalMs?: number;
  /** How often retention runs on its own (it also runs after each roll). Default 60000. */
  readonly retentionCheckIntervalMs?: number;
  /** Upper bound on one batch's decompressed records when reading. Default 64 MiB. */
  readonly decompressedBytesMax?: number;
  /** File system; tests inject failures here. Default `node:fs`. */
  readonly fileSystem?: FileSystem;
  /** Clock in ms since the epoch; tests drive rolling and retention with it. Default `Date.now`. */
  readonly clock?: () => number;
}

/** Options after defaults were applied and checked. */
export interface ResolvedPartitionOptions {
  readonly directory: string;
  readonly fsync: FsyncPolicy;
  readonly syncIntervalMs: number | undefined;
  readonly segmentBytesMax: number;
  readonly segmentAgeMsMax: number;
  readonly retentionMs: number;
  readonly retentionBytes: number;
  readonly recordBytesMax: number;
  readonly batchBytesMax: number;
  readonly indexIntervalBytes: number;
  readonly closedSegmentsWarmMax: number;
  readonly appendQueueBytesMax: number;
  readonly appendQueueCountMax: number;
  readonly leaderEpoch: number;
  readonly checkpointIntervalMs: number;
  readonly retentionCheckIntervalMs: number;
  readonly decompressedBytesMax: number;
  readonly fileSystem: FileSystem;
  readonly clock: () => number;
}

const MEBIBYTE = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

function positive(name: string, value: number | undefined, fallback: number, allowInfinity = false): number {
  const resolved = value ?? fallback;
  const fine =
    typeof resolved === 'number' &&
    resolved > 0 &&
    (Number.isSafeInteger(resolved) || (allowInfinity && resolved === Number.POSITIVE_INFINITY));
  if (!fine) {
    throw new LogError(
      'LOG_INVALID_ARGUMENT',
      `option ${name} is ${String(value)}; pass a positive integer${allowInfinity ? ' or Infinity' : ''}`,
    );
  }
  return resolved;
}

/** Applies defaults and validates; throws `LOG_INVALID_ARGUMENT` naming the bad option. */
export function resolvePartitionOptions(options: PartitionOptions): ResolvedPartitionOptions {
  if (typeof options?.directory !== 'string' || options.directory.length === 0) {
    throw new LogError(
      'LOG_INVALID_ARGUMENT',
      'option directory is missing; pass the partition directory path',
    );
  }
  const fsync = options.fsync ?? 'always';
  let syncIntervalMs: number | undefined;
  if (typeof fsync === 'object' && fsync !== null) {
    syncIntervalMs = positive('fsync.intervalMs', fsync.intervalMs, 0);
  } else if (fsync !== 'always' && fsync !== 'never') {
    throw new LogError(
      'LOG_INVALID_ARGUMENT',
      `option fsync is ${String(fsync)}; pass 'always', 'never' or { intervalMs: number }`,
    );
  }
  const segmentBytesMax = positive('segmentBytesMax', options.segmentBytesMax, 1024 * MEBIBYTE);
  if (segmentBytesMax > SEGMENT_BYTES_LIMIT) {
    throw new LogError('LOG_INVALID_ARGUMENT', `option segmentBytesMax ${segmentBytesMax} exceeds 2^31 - 1`);
  }
  const recordBytesMax = positive('recordBytesMax', options.recordBytesMax, MEBIBYTE);
  const batchBytesMax = positive('batchBytesMax', options.batchBytesMax, 8 * MEBIBYTE);
  if (batchBytesMax > SEGMENT_BYTES_LIMIT) {
    throw new LogError('LOG_INVALID_ARGUMENT', `option batchBytesMax ${batchBytesMax} exceeds 2^31 - 1`);
  }
  const appendQueueBytesMax = positive('appendQueueBytesMax', options.appendQueueBytesMax, 64 * MEBIBYTE);
  return {
    directory: options.directory,
    fsync,
    syncIntervalMs,
    segmentBytesMax,
    segmentAgeMsMax: positive('segmentAgeMsMax', options.segmentAgeMsMax, 7 * DAY_MS, true),
    retentionMs: positive('retentionMs', options.retentionMs, Number.POSITIVE_INFINITY, true),
    retentionBytes: positive('retentionBytes', options.retentionBytes, Number.POSITIVE_INFINITY, true),
    recordBytesMax,
    batchBytesMax,
    indexIntervalBytes: positive('indexIntervalBytes', options.indexIntervalBytes, 4096),
    closedSegmentsWarmMax: positive(
      'closedSegmentsWarmMax',
      options.closedSegmentsWarmMax,
      CLOSED_SEGMENTS_WARM_MAX_DEFAULT,
    ),
    appendQueueBytesMax: Math.max(appendQueueBytesMax, batchBytesMax),
    appendQueueCountMax: positive('appendQueueCountMax', options.appendQueueCountMax, 65_536),
    leaderEpoch: options.leaderEpoch ?? 0,
    checkpointIntervalMs: positive('checkpointIntervalMs', options.checkpointIntervalMs, 5_000),
    retentionCheckIntervalMs: positive('retentionCheckIntervalMs', options.retentionCheckIntervalMs, 60_000),
    decompressedBytesMax: positive('decompressedBytesMax', options.decompressedBytesMax, 64 * MEBIBYTE),
    fileSystem: options.fileSystem ?? nodeFileSystem,
    clock: options.clock ?? Date.now,
  };
}
