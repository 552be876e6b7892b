/**
 * The record format of the group-position journal, `<data dir>/group-positions.log`: the one file
 * that holds every group position of a broker, both kinds (see group-position-store.ts for how it
 * is written, compacted and recovered).
 *
 * The journal is a sequence of frames, big-endian:
 *
 * - a record, `u32 length | u32 CRC-32 of the payload | payload`; the payload is the UTF-8 JSON
 *   `{format, ops: [...]}`;
 * - a commit marker, `u32 0xFFFFFFFF | u32 CRC-32 of the body | body: u64 the marker's own byte
 *   position`. A marker is written only once every byte before it is durable (after the
 *   fdatasync of the record before it, or in a compacted file that is fsynced before it is
 *   renamed into place), so a marker that survived proves the bytes before it were synced.
 *   `0xFFFFFFFF` is never a record's length, and UTF-8 JSON never holds a `0xFF` byte, so a marker
 *   can be found by scanning; its self-position and CRC make a false match from damaged bytes
 *   negligible.
 *
 * Replaying the ops of every record in order gives the positions. An op is one of:
 *
 * - an acked position, the whole position of a `subscribe` group on a topic:
 *   `{topic, group, partitions: [{partition, committed, ackedAhead: [[first, last], ...]}]}`;
 * - committed offsets, every Kafka-style commit of a group on a topic (an empty list forgets
 *   them): `{topic, group, commits: [{partition, offset, metadata?}]}`; `metadata` is absent for
 *   a commit stored without it;
 * - a topic deletion, which forgets both kinds on the topic: `{topic, deleted: true}`.
 *
 * Recovery (`decodeJournal`) tells a torn append from damage: a bad frame (cut short, failing its
 * CRC, a damaged marker) with a valid commit marker anywhere after it was synced, so it is damage
 * (`BrokerCorruptError`). Without a valid marker after it, it is part of the last append, which no
 * caller was told was stored (callers wait for its marker), so it and everything after it are
 * dropped quietly. In a journal without markers (formats 1 and 2, or written without fsync) only
 * a bad frame with nothing but zeros after it is taken for a torn append; one followed by more
 * data is damage.
 *
 * Format 1 records (brokers before committed offsets moved here) hold the first and last kinds
 * only; format 2 records may hold all three; neither has markers (the last record of such a file
 * cannot be told from a torn append, so it is treated as one). Format 3 records are format 2
 * records in a journal with commit markers. This broker reads all three and writes format 3,
 * which older brokers refuse ("unknown format") rather than misread: a format-3 journal always
 * starts with a record, never a marker.
 */
import { crc32 } from 'node:zlib';
import { BrokerCorruptError } from './errors.ts';

/** One partition's stored acked position. */
export interface PartitionPosition {
  /** Next offset not yet acked; every lower offset is acked. */
  readonly committed: bigint;
  /** Offsets at or above `committed` that are acked, ascending. */
  readonly ackedAhead: readonly bigint[];
}

/** A group's stored acked position on a topic, indexed by partition. */
export type GroupPosition = ReadonlyMap<number, PartitionPosition>;

/** A committed offset with the commit's metadata (null when it was committed without). */
export interface CommittedOffset {
  readonly offset: bigint;
  readonly metadata: string | null;
}

/** The format this broker writes. */
export const JOURNAL_FORMAT = 3;
/** Formats this broker reads. */
const JOURNAL_FORMATS_READ = new Set([1, 2, 3]);
/** Bytes of a frame header: length (or the marker tag) and CRC-32. */
const HEADER_BYTES = 8;
/** The length field of a commit marker (no record is this long). */
const MARKER_TAG = 0xff_ff_ff_ff;
/** Bytes of a commit marker: header and the u64 position. */
const MARKER_BYTES = HEADER_BYTES + 8;
/** Largest number of acked-ahead offsets one partition may list; more means a damaged record. */
const ACKED_AHEAD_MAX = 1_000_000;

/** An acked position's partition as stored. */
export type StoredPartition = { partition: number; committed: string; ackedAhead: [string, string][] };
/** A committed offset as stored. */
export type StoredCommit = { partition: number; offset: string; metadata?: string };

/** One journal op (see the module comment). */
export type Op =
  | { readonly topic: string; readonly group: string; readonly partitions: StoredPartition[] }
  | { readonly topic: string; readonly group: string; readonly commits: StoredCommit[] }
  | { readonly topic: string; readonly deleted: true };

/** Encodes ascending offsets as inclusive `[first, last]` decimal ranges. */
function toRanges(offsets: readonly bigint[]): [string, string][] {
  const ranges: [string, string][] = [];
  let first: bigint | undefined;
  let last = 0n;
  for (const offset of offsets) {
    if (first !== undefined && offset === last + 1n) {
      last = offset;
      continue;
    }
    if (first !== undefined) ranges.push([String(first), String(last)]);
    first = offset;
    last = offset;
  }
  if (first !== undefined) ranges.push([String(first), String(last)]);
  return ranges;
}

/** The stored form of an acked position. */
export function toStored(position: GroupPosition): StoredPartition[] {
  return [...position].map(([partition, { committed, ackedAhead }]) => ({
    partition,
    committed: String(committed),
    ackedAhead: toRanges(ackedAhead),
  }));
}

/** Decodes stored partitions; `damaged(why)` builds the error for values out of bounds. */
export function fromStored(partitions: unknown, damaged: (why: string) => Error): GroupPosition {
  if (!Array.isArray(partitions)) throw damaged('partitions is not a list');
  const position = new Map<number, PartitionPosition>();
  for (const entry of partitions as StoredPartition[]) {
    const committed = BigInt(entry.committed);
    const ackedAhead: bigint[] = [];
    for (const [first, last] of entry.ackedAhead) {
      for (let offset = BigInt(first); offset <= BigInt(last); offset++) {
        if (offset < committed || ackedAhead.length >= ACKED_AHEAD_MAX)
          throw damaged('acked ranges out of bounds');
        ackedAhead.push(offset);
      }
    }
    position.set(entry.partition, { committed, ackedAhead });
  }
  return position;
}

/** The stored form of a group's committed offsets on a topic, in partition order. */
export function toStoredCommits(commits: ReadonlyMap<number, CommittedOffset>): StoredCommit[] {
  return [...commits]
    .sort(([left], [right]) => left - right)
    .map(([partition, { offset, metadata }]) =>
      metadata === null
        ? { partition, offset: String(offset) }
        : { partition, offset: String(offset), metadata },
    );
}

/** Decodes stored committed offsets; `damaged(why)` builds the error for a value of the wrong type. */
export function fromStoredCommits(
  commits: unknown,
  damaged: (why: string) => Error,
): Map<number, CommittedOffset> {
  if (!Array.isArray(commits)) throw damaged('commits is not a list');
  const decoded = new Map<number, CommittedOffset>();
  for (const entry of commits as Partial<StoredCommit>[]) {
    if (!Number.isSafeInteger(entry.partition) || typeof entry.offset !== 'string') {
      throw damaged('a commit without partition or offset');
    }
    if (entry.metadata !== undefined && typeof entry.metadata !== 'string') {
      throw damaged('commit metadata is not a string');
    }
    decoded.set(entry.partition!, { offset: BigInt(entry.offset), metadata: entry.metadata ?? null });
  }
  return decoded;
}

/** One journal record holding `ops`. */
export function encodeRecord(ops: readonly Op[]): Buffer {
  const payload = Buffer.from(JSON.stringify({ format: JOURNAL_FORMAT, ops }), 'utf8');
  const record = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
  record.writeUInt32BE(payload.byteLength, 0);
  record.writeUInt32BE(crc32(payload), 4);
  payload.copy(record, HEADER_BYTES);
  return record;
}

/**
 * The commit marker to write at byte `position` of the journal: it says every byte before
 * `position` is durable, so write it only once they are.
 */
export function encodeMarker(position: number): Buffer {
  const marker = Buffer.allocUnsafe(MARKER_BYTES);
  marker.writeUInt32BE(MARKER_TAG, 0);
  marker.writeBigUInt64BE(BigInt(position), HEADER_BYTES);
  marker.writeUInt32BE(crc32(marker.subarray(HEADER_BYTES)), 4);
  return marker;
}

/** Whether a valid commit marker starts at `at`: tag, CRC, and its own position as body. */
function isMarkerAt(bytes: Buffer, at: number): boolean {
  if (bytes.byteLength - at < MARKER_BYTES || bytes.readUInt32BE(at) !== MARKER_TAG) return false;
  const body = bytes.subarray(at + HEADER_BYTES, at + MARKER_BYTES);
  return crc32(body) === bytes.readUInt32BE(at + 4) && body.readBigUInt64BE(0) === BigInt(at);
}

const MARKER_TAG_BYTES = Buffer.from([0xff, 0xff, 0xff, 0xff]);

/** The position of the first valid commit marker after `from`, or -1. */
function markerAfter(bytes: Buffer, from: number): number {
  for (let at = bytes.indexOf(MARKER_TAG_BYTES, from + 1); at !== -1; ) {
    if (isMarkerAt(bytes, at)) return at;
    at = bytes.indexOf(MARKER_TAG_BYTES, at + 1);
  }
  return -1;
}

/**
 * Splits a journal into the ops of its records (see the module comment for how a torn append is
 * told from damage); throws {@link BrokerCorruptError} for damage.
 */
export function decodeJournal(bytes: Buffer, file: string): Op[] {
  const damaged = (at: number, why: string) =>
    new BrokerCorruptError(
      `${file} is damaged at byte ${at} (${why}); remove it to restart every group from the earliest message`,
    );
  const ops: Op[] = [];
  /** A valid marker was read: the journal is written with markers (format 3, durable). */
  let marked = false;
  /** A bad frame at `at` ending at `end` (or the file's end): damage, or a torn tail to drop. */
  const badFrame = (at: number, end: number, why: string): Op[] => {
    const marker = markerAfter(bytes, at);
    if (marker !== -1) throw damaged(at, `${why}; the commit marker at byte ${marker} says it was synced`);
    // With markers, nothing after the last valid one was acknowledged: it is the last append,
    // whatever a crash left of it. Without, only a bad frame at the end can be a torn append.
    if (!marked && end < bytes.byteLength && !bytes.subarray(end).every((byte) => byte === 0)) {
      throw damaged(at, `${why}, followed by more data`);
    }
    return ops;
  };
  let at = 0;
  while (at < bytes.byteLength) {
    if (bytes.byteLength - at < HEADER_BYTES) return badFrame(at, bytes.byteLength, 'torn header');
    const length = bytes.readUInt32BE(at);
    if (length === MARKER_TAG) {
      if (!isMarkerAt(bytes, at)) {
        return badFrame(at, Math.min(at + MARKER_BYTES, bytes.byteLength), 'damaged commit marker');
      }
      marked = true;
      at += MARKER_BYTES;
      continue;
    }
    if (length === 0) {
      // Zeros: the space of an append whose bytes were never written, unless anything follows.
      return badFrame(at, at, 'empty record');
    }
    const end = at + HEADER_BYTES + length;
    if (end > bytes.byteLength) return badFrame(at, bytes.byteLength, 'record cut short');
    const payload = bytes.subarray(at + HEADER_BYTES, end);
    if (crc32(payload) !== bytes.readUInt32BE(at + 4)) return badFrame(at, end, 'CRC mismatch');
    let value: { format?: unknown; ops?: unknown };
    try {
      value = JSON.parse(payload.toString('utf8')) as typeof value;
    } catch (error) {
      throw damaged(at, `invalid JSON: ${(error as Error).message}`);
    }
    if (!JOURNAL_FORMATS_READ.has(value.format as number) || !Array.isArray(value.ops)) {
      throw damaged(at, `unknown format ${String(value.format)}; a newer broker may have written it`);
    }
    ops.push(...(value.ops as Op[]));
    at = end;
  }
  return ops;
}
