/**
 * The record format of the group-position journal, `<data dir>/group-positions.log`: the one file
 * that holds every group position of a broker, both kinds (see group-position-store.ts for how it
 * is written, compacted and recovered).
 *
 * A record is `u32 length | u32 CRC-32 of the payload | payload`, big-endian; the payload is the
 * UTF-8 JSON `{format, ops: [...]}`. Replaying the ops of every record in order gives the
 * positions. An op is one of:
 *
 * - an acked position, the whole position of a `subscribe` group on a topic:
 *   `{topic, group, partitions: [{partition, committed, ackedAhead: [[first, last], ...]}]}`;
 * - committed offsets, every Kafka-style commit of a group on a topic (an empty list forgets
 *   them): `{topic, group, commits: [{partition, offset, metadata?}]}`; `metadata` is absent for
 *   a commit stored without it;
 * - a topic deletion, which forgets both kinds on the topic: `{topic, deleted: true}`.
 *
 * Format 1 records (brokers before committed offsets moved here) hold the first and last kinds
 * only; format 2 records may hold all three. This broker reads both and writes format 2, which
 * older brokers refuse ("unknown format") rather than misread.
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
export const JOURNAL_FORMAT = 2;
/** Formats this broker reads. */
const JOURNAL_FORMATS_READ = new Set([1, 2]);
/** Bytes of a record header: length and CRC-32. */
const HEADER_BYTES = 8;
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
 * Splits a journal into the ops of its records. A torn last record (cut short, or failing its CRC
 * where it ends the file, or zero bytes where an append was lost) ends the journal quietly; a bad
 * record followed by more data is damage.
 */
export function decodeJournal(bytes: Buffer, file: string): Op[] {
  const damaged = (at: number, why: string) =>
    new BrokerCorruptError(
      `${file} is damaged at byte ${at} (${why}); remove it to restart every group from the earliest message`,
    );
  const ops: Op[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    if (bytes.byteLength - at < HEADER_BYTES) break; // torn header
    const length = bytes.readUInt32BE(at);
    const end = at + HEADER_BYTES + length;
    if (length === 0) {
      if (bytes.subarray(at).every((byte) => byte === 0)) break; // an append's space, never written
      throw damaged(at, 'empty record');
    }
    if (end > bytes.byteLength) break; // torn payload
    const payload = bytes.subarray(at + HEADER_BYTES, end);
    if (crc32(payload) !== bytes.readUInt32BE(at + 4)) {
      if (end === bytes.byteLength) break; // the last append, torn
      throw damaged(at, 'CRC mismatch');
    }
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
