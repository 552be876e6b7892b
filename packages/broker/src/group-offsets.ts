/**
 * Consumer-group positions. A group's position on a topic is, per partition, the committed offset
 * (the next offset the group has not finished; everything below it is acked) and the offsets above
 * it that were acked individually while a lower one was still unfinished. Keeping those "acked
 * ahead" offsets is what lets a restarted broker redeliver only the unacked messages: the committed
 * offset itself never passes an unacked message.
 *
 * Every group of a broker stores its position in one journal, `<data dir>/group-positions.log`,
 * so that acks of all groups share one append and one fdatasync per round instead of an atomic
 * file replacement (two fsyncs) per group:
 *
 * - A record is `u32 length | u32 CRC-32 of the payload | payload`, big-endian; the payload is the
 *   UTF-8 JSON `{format: 1, ops: [...]}`. An op is a group's whole position
 *   `{topic, group, partitions: [{partition, committed, ackedAhead: [[first, last], ...]}]}` or a
 *   topic deletion `{topic, deleted: true}`. Replaying the records in order gives the positions.
 * - One write round appends one record holding the position of every group that asked to be stored
 *   since the previous round, then fdatasyncs. Rounds run one at a time; requests arriving during
 *   a round share the next one (group commit across groups).
 * - A crash during an append leaves a torn last record, which the next open ignores: that round
 *   was never acknowledged. A damaged record anywhere else is reported as corruption.
 * - On open, and whenever the journal grows past {@link compactionBytes}, the live positions are
 *   written as a single record to `group-positions.log.tmp`, fsynced, renamed over the journal and
 *   the directory fsynced (the same atomic replacement as metadata files). After a failed round
 *   the next round does this too, so a partly written record never stays in the middle.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { readChecked, syncDirectory } from './atomic-file.ts';
import { BrokerCorruptError, BrokerStorageError } from './errors.ts';

/** One partition's stored position. */
export interface PartitionPosition {
  /** Next offset not yet acked; every lower offset is acked. */
  readonly committed: bigint;
  /** Offsets at or above `committed` that are acked, ascending. */
  readonly ackedAhead: readonly bigint[];
}

/** A group's stored position on a topic, indexed by partition. */
export type GroupPosition = ReadonlyMap<number, PartitionPosition>;

const FORMAT = 1;
/** Bytes of a record header: length and CRC-32. */
const HEADER_BYTES = 8;
/** The journal is compacted once it is this large, or four times its last compacted size if larger. */
const COMPACTION_BYTES_MIN = 4 * 1024 * 1024;
/** Largest number of acked-ahead offsets one partition may list; more means a damaged record. */
const ACKED_AHEAD_MAX = 1_000_000;

/** Path of the positions journal of a data directory. */
export function groupPositionsFile(dataDirectory: string): string {
  return path.join(dataDirectory, 'group-positions.log');
}

/** Path of a group's position file as brokers before the journal stored it (read once, to migrate). */
function legacyOffsetsFile(dataDirectory: string, topic: string, group: string): string {
  return path.join(dataDirectory, 'groups', topic, `${group}.offsets`);
}

type StoredPartition = { partition: number; committed: string; ackedAhead: [string, string][] };
type Op =
  | { readonly topic: string; readonly group: string; readonly partitions: StoredPartition[] }
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

function toStored(position: GroupPosition): StoredPartition[] {
  return [...position].map(([partition, { committed, ackedAhead }]) => ({
    partition,
    committed: String(committed),
    ackedAhead: toRanges(ackedAhead),
  }));
}

/** Decodes stored partitions; `damaged(why)` builds the error for values out of bounds. */
function fromStored(partitions: unknown, damaged: (why: string) => Error): GroupPosition {
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

function encodeRecord(ops: readonly Op[]): Buffer {
  const payload = Buffer.from(JSON.stringify({ format: FORMAT, ops }), 'utf8');
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
function decodeJournal(bytes: Buffer, file: string): Op[] {
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
    if (value.format !== FORMAT || !Array.isArray(value.ops)) throw damaged(at, 'unknown format');
    ops.push(...(value.ops as Op[]));
    at = end;
  }
  return ops;
}

/**
 * The broker's group positions: loaded from the journal on open, kept in memory, stored with
 * {@link GroupPositions.store}. Create with {@link GroupPositions.open}.
 */
export class GroupPositions {
  readonly #file: string;
  readonly #durable: boolean;
  /** Every known position, by topic then group: what the journal replays to once the queue is written. */
  readonly #positions = new Map<string, Map<string, StoredPartition[]>>();
  #handle: fs.FileHandle | undefined;
  /** Bytes of the journal known to be written whole. */
  #size = 0;
  #compactAtBytes = COMPACTION_BYTES_MIN;
  /** A round failed: the next one rewrites the journal rather than append after a partial record. */
  #mustCompact = false;
  /** Ops for the next round, by `topic\0group` (`topic\0` for a deletion), in request order. */
  #queue = new Map<string, { topic: string; group?: string; position?: () => GroupPosition }>();
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #writing: Promise<void> | undefined;
  #closed = false;

  private constructor(file: string, durable: boolean) {
    this.#file = file;
    this.#durable = durable;
  }

  /**
   * Loads the journal of `dataDirectory`, keeps the positions of `topics` (positions of other
   * topics belong to deletions a crash interrupted), adopts position files of older brokers
   * (`groups/<topic>/<group>.offsets`, removed once adopted), and compacts.
   */
  static async open(
    dataDirectory: string,
    topics: ReadonlySet<string>,
    durable: boolean,
  ): Promise<GroupPositions> {
    const positions = new GroupPositions(groupPositionsFile(dataDirectory), durable);
    let bytes: Buffer | undefined;
    try {
      bytes = await fs.readFile(positions.#file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new BrokerStorageError(`cannot read ${positions.#file}: ${(error as Error).message}`, error);
      }
    }
    for (const op of bytes === undefined ? [] : decodeJournal(bytes, positions.#file)) {
      if ('deleted' in op) positions.#positions.delete(op.topic);
      else if (topics.has(op.topic)) positions.#topic(op.topic).set(op.group, op.partitions);
    }
    const legacy = await positions.#adoptLegacyFiles(dataDirectory, topics);
    await positions.#compact();
    await Promise.all(legacy.map((file) => fs.rm(file, { force: true })));
    return positions;
  }

  /** The stored position of `group` on `topic` (as last requested), or undefined when it has none. */
  get(topic: string, group: string): GroupPosition | undefined {
    const stored = this.#positions.get(topic)?.get(group);
    if (stored === undefined) return undefined;
    return fromStored(stored, (why) => new BrokerCorruptError(`position of ${group} on ${topic}: ${why}`));
  }

  /** Groups with a stored position on `topic` (as last written), in no particular order. */
  groups(topic: string): string[] {
    const groups = this.#positions.get(topic);
    return groups === undefined ? [] : [...groups.keys()];
  }

  /**
   * Stores the position of `group` on `topic`; `position` is called when the round that stores it
   * starts, so it stores the latest state. Resolves once that round is durable.
   */
  store(topic: string, group: string, position: () => GroupPosition): Promise<void> {
    return this.#enqueue(`${topic}\0${group}`, { topic, group, position });
  }

  /** Forgets every position on `topic` (it was deleted); resolves once that is durable. */
  forgetTopic(topic: string): Promise<void> {
    for (const key of [...this.#queue.keys()]) if (key.startsWith(`${topic}\0`)) this.#queue.delete(key);
    return this.#enqueue(`${topic}\0`, { topic });
  }

  /** Waits for the running and queued rounds, then closes the journal. Idempotent. */
  async close(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle?.close();
    this.#handle = undefined;
  }

  #topic(topic: string): Map<string, StoredPartition[]> {
    let groups = this.#positions.get(topic);
    if (groups === undefined) {
      groups = new Map();
      this.#positions.set(topic, groups);
    }
    return groups;
  }

  #enqueue(
    key: string,
    op: { topic: string; group?: string; position?: () => GroupPosition },
  ): Promise<void> {
    if (this.#closed) return Promise.reject(new BrokerStorageError(`${this.#file} is closed`, undefined));
    this.#queue.delete(key); // re-inserted last, so ops keep their request order
    this.#queue.set(key, op);
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#writing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    // Each round takes everything queued so far; the queue holds one op per group at most.
    while (this.#waiters.length > 0) {
      const queue = this.#queue;
      const waiters = this.#waiters;
      this.#queue = new Map();
      this.#waiters = [];
      const ops: Op[] = [];
      for (const { topic, group, position } of queue.values()) {
        if (group === undefined || position === undefined) {
          this.#positions.delete(topic);
          ops.push({ topic, deleted: true });
        } else {
          const partitions = toStored(position());
          this.#topic(topic).set(group, partitions);
          ops.push({ topic, group, partitions });
        }
      }
      try {
        if (this.#mustCompact || this.#size >= this.#compactAtBytes) await this.#compact();
        else await this.#append(encodeRecord(ops));
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        this.#mustCompact = true;
        const failure = new BrokerStorageError(
          `cannot store group positions in ${this.#file}: ${(error as Error).message}; check free space and permissions`,
          error,
        );
        for (const waiter of waiters) waiter.reject(failure);
      }
    }
    this.#writing = undefined;
  }

  async #append(record: Buffer): Promise<void> {
    const handle = this.#handle!;
    let written = 0;
    while (written < record.byteLength) {
      written += (await handle.write(record, written, record.byteLength - written)).bytesWritten;
    }
    if (this.#durable) await handle.datasync();
    this.#size += record.byteLength;
  }

  /** Replaces the journal with one record of every live position (atomically) and reopens it. */
  async #compact(): Promise<void> {
    const ops: Op[] = [];
    for (const [topic, groups] of this.#positions) {
      for (const [group, partitions] of groups) ops.push({ topic, group, partitions });
    }
    const record = ops.length === 0 ? Buffer.alloc(0) : encodeRecord(ops);
    const temporary = `${this.#file}.tmp`;
    await this.#handle?.close();
    this.#handle = undefined;
    const handle = await fs.open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(record);
      if (this.#durable) await handle.datasync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, this.#file);
    if (this.#durable) await syncDirectory(path.dirname(this.#file));
    this.#handle = await fs.open(this.#file, 'a', 0o600);
    this.#size = record.byteLength;
    this.#compactAtBytes = Math.max(COMPACTION_BYTES_MIN, 4 * record.byteLength);
    this.#mustCompact = false;
  }

  /** Reads `groups/<topic>/<group>.offsets` files of older brokers; returns the files adopted. */
  async #adoptLegacyFiles(dataDirectory: string, topics: ReadonlySet<string>): Promise<string[]> {
    const adopted: string[] = [];
    for (const topic of topics) {
      let names: string[];
      try {
        names = await fs.readdir(path.join(dataDirectory, 'groups', topic));
      } catch {
        continue;
      }
      for (const name of names) {
        if (!name.endsWith('.offsets')) continue;
        const group = name.slice(0, -'.offsets'.length);
        const file = legacyOffsetsFile(dataDirectory, topic, group);
        const value = (await readChecked(file)) as { format?: unknown; partitions?: unknown } | undefined;
        if (value === undefined) continue;
        const damaged = (why: string) =>
          new BrokerCorruptError(
            `${file}: ${why}; remove the file to restart the group from the earliest message`,
          );
        if (value.format !== FORMAT) throw damaged('unknown format');
        const position = fromStored(value.partitions, damaged);
        // A position in the journal is newer than the file it replaced.
        if (!this.#topic(topic).has(group)) this.#topic(topic).set(group, toStored(position));
        adopted.push(file);
      }
    }
    return adopted;
  }
}
