/**
 * The one store of every group position of a broker, both kinds, in one journal
 * (`<data dir>/group-positions.log`, format in position-journal.ts):
 *
 * - acked positions of `subscribe` groups: per partition the committed offset (the next offset
 *   the group has not finished; everything below it is acked) and the offsets above it acked
 *   individually while a lower one was still unfinished, so a restarted broker redelivers only
 *   the unacked messages;
 * - committed offsets of Kafka-style groups (`commitOffsets`), with each commit's metadata.
 *
 * One journal, so that a group's position has exactly one durable home and acks and commits of
 * every group share one append and one fdatasync per round:
 *
 * - One write round appends one record holding the latest state of every group (and kind) that
 *   asked to be stored since the previous round, then fdatasyncs. Its callers resolve once the
 *   record's commit marker is durable too: the marker goes in the next round's append (so under
 *   load a round still costs one write and one fdatasync), or alone when nothing else is queued.
 *   Rounds run one at a time; requests arriving during a round share the next one (group commit
 *   across groups). At most one op per group and kind is queued, so a round is bounded by the
 *   number of groups.
 * - So every stored position a caller was told about lies before a durable marker: damage there
 *   (a bit flip) is detected and reported, never mistaken for a torn append. A crash during an
 *   append leaves a torn last record after the last marker, which the next open ignores: nobody
 *   was told that round was stored.
 * - On open, and whenever the journal grows past 4 MiB or 4 times its last compacted size, the
 *   live state is written as a single record and its marker to `group-positions.log.tmp`, fsynced,
 *   renamed over the journal and the directory fsynced. After a failed round the next round does
 *   this too, so a partly written record never stays in the middle. Journals of older brokers
 *   (formats 1 and 2, without markers) are read as they are and rewritten so on open.
 * - Without durability (fsync policy `'never'`) nothing is synced, so no marker is written and
 *   callers resolve after the append.
 * - On open, files of older brokers (`groups/<topic>/<group>.offsets` and `.commits`) are
 *   migrated: the compaction writes their content durably first, then they are removed
 *   (legacy-group-files.ts).
 */
import path from 'node:path';
import { InvariantError } from '@herald/errors';
import type { FileSystem } from '@herald/log';
import { errorCode, METADATA_FILE_MODE, syncDirectory, writeAll } from './atomic-file.ts';
import { BrokerCorruptError, BrokerStorageError } from './errors.ts';
import { readLegacyGroupFiles, removeLegacyGroupFiles } from './legacy-group-files.ts';
import {
  type CommittedOffset,
  decodeJournal,
  encodeMarker,
  encodeRecord,
  fromStored,
  fromStoredCommits,
  type GroupPosition,
  type Op,
  type StoredPartition,
  toStored,
  toStoredCommits,
} from './position-journal.ts';

/** The journal is compacted once it is this large, or four times its last compacted size if larger. */
const COMPACTION_BYTES_MIN = 4 * 1024 * 1024;

/** Path of the group-position journal of a data directory. */
export function groupPositionsFile(dataDirectory: string): string {
  return path.join(dataDirectory, 'group-positions.log');
}

/** A caller waiting for its request to be durable. */
interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Adds a map under `key` of `outer` unless there is one; returns it. */
function inner<V>(outer: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let map = outer.get(key);
  if (map === undefined) {
    map = new Map();
    outer.set(key, map);
  }
  return map;
}

/**
 * Every group position of a broker: loaded from the journal on open, kept in memory, stored in
 * write rounds. Create with {@link GroupPositionStore.open}.
 */
export class GroupPositionStore {
  readonly #fileSystem: FileSystem;
  readonly #file: string;
  readonly #durable: boolean;
  /** Acked positions by topic then group, as of the last round started. */
  readonly #positions = new Map<string, Map<string, StoredPartition[]>>();
  /** Committed offsets by topic then group (never empty), as callers last changed them. */
  readonly #commits = new Map<string, Map<string, Map<number, CommittedOffset>>>();
  /** The journal, open for appends at {@link #size}. */
  #fd: number | undefined;
  /** Bytes of the journal known to be written whole. */
  #size = 0;
  #compactAtBytes = COMPACTION_BYTES_MIN;
  /** A round failed: the next one rewrites the journal rather than append after a partial record. */
  #mustCompact = false;
  /**
   * The next round's ops, each computed when the round starts, by `topic\0a\0group` (acked),
   * `topic\0c\0group` (committed) or `topic\0` (deletion), in request order.
   */
  #queue = new Map<string, () => Op>();
  #waiters: Waiter[] = [];
  #writing: Promise<void> | undefined;
  #closed = false;

  private constructor(fileSystem: FileSystem, file: string, durable: boolean) {
    this.#fileSystem = fileSystem;
    this.#file = file;
    this.#durable = durable;
  }

  /**
   * Loads the journal of `dataDirectory`, keeps the positions of `topics` (positions of other
   * topics belong to deletions a crash interrupted), migrates files of older brokers, compacts,
   * then removes the migrated files. Every file goes through `fileSystem`.
   */
  static async open(
    fileSystem: FileSystem,
    dataDirectory: string,
    topics: ReadonlySet<string>,
    durable: boolean,
  ): Promise<GroupPositionStore> {
    const store = new GroupPositionStore(fileSystem, groupPositionsFile(dataDirectory), durable);
    let bytes: Buffer | undefined;
    try {
      const read = await fileSystem.readFile(store.#file);
      bytes = Buffer.from(read.buffer, read.byteOffset, read.byteLength);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') {
        throw new BrokerStorageError(`cannot read ${store.#file}: ${(error as Error).message}`, error);
      }
    }
    for (const op of bytes === undefined ? [] : decodeJournal(bytes, store.#file)) store.#replay(op, topics);
    const legacy = await readLegacyGroupFiles(fileSystem, dataDirectory, topics);
    // The journal is newer than any file it replaced (a crash between compaction and removal).
    for (const { topic, group, partitions } of legacy.positions) {
      if (!inner(store.#positions, topic).has(group)) inner(store.#positions, topic).set(group, partitions);
    }
    for (const { topic, group, commits } of legacy.commits) {
      if (!inner(store.#commits, topic).has(group) && commits.size > 0) {
        inner(store.#commits, topic).set(group, commits);
      }
    }
    await store.#compact();
    await removeLegacyGroupFiles(fileSystem, legacy.files, durable);
    return store;
  }

  #replay(op: Op, topics: ReadonlySet<string>): void {
    const damaged = (why: string) =>
      new BrokerCorruptError(
        `${this.#file} holds a damaged op for topic ${op.topic} (${why}); remove it to restart every group from the earliest message`,
      );
    if ('deleted' in op) {
      this.#positions.delete(op.topic);
      this.#commits.delete(op.topic);
    } else if (!topics.has(op.topic)) {
      return;
    } else if ('commits' in op) {
      const commits = fromStoredCommits(op.commits, damaged);
      if (commits.size === 0) this.#commits.get(op.topic)?.delete(op.group);
      else inner(this.#commits, op.topic).set(op.group, commits);
    } else {
      if (!Array.isArray(op.partitions)) throw damaged('partitions is not a list');
      inner(this.#positions, op.topic).set(op.group, op.partitions);
    }
  }

  /** The stored acked position of `group` on `topic` (as last requested), or undefined when it has none. */
  get(topic: string, group: string): GroupPosition | undefined {
    const stored = this.#positions.get(topic)?.get(group);
    if (stored === undefined) return undefined;
    return fromStored(stored, (why) => new BrokerCorruptError(`position of ${group} on ${topic}: ${why}`));
  }

  /** Groups with a stored acked position on `topic` (as last written), in no particular order. */
  groups(topic: string): string[] {
    const groups = this.#positions.get(topic);
    return groups === undefined ? [] : [...groups.keys()];
  }

  /**
   * Stores the acked position of `group` on `topic`; `position` is called when the round that
   * stores it starts, so it stores the latest state. Resolves once that round is durable.
   */
  store(topic: string, group: string, position: () => GroupPosition): Promise<void> {
    return this.#enqueue(`${topic}\0a\0${group}`, () => {
      const partitions = toStored(position());
      inner(this.#positions, topic).set(group, partitions);
      return { topic, group, partitions };
    });
  }

  /** The committed offsets of `group` on `topic` by partition (a copy; empty when none). */
  committed(topic: string, group: string): Map<number, CommittedOffset> {
    return new Map(this.#commits.get(topic)?.get(group));
  }

  /** Groups with committed offsets on `topic`, in no particular order. */
  committedGroups(topic: string): string[] {
    const groups = this.#commits.get(topic);
    return groups === undefined ? [] : [...groups.keys()];
  }

  /**
   * Merges `commits` into the committed offsets of `group` on `topic` (readers see them at once)
   * and resolves once a round stored them durably.
   */
  commit(topic: string, group: string, commits: ReadonlyMap<number, CommittedOffset>): Promise<void> {
    const current = inner(this.#commits, topic).get(group) ?? new Map<number, CommittedOffset>();
    for (const [partition, commit] of commits) current.set(partition, commit);
    if (current.size > 0) inner(this.#commits, topic).set(group, current);
    return this.#enqueueCommits(topic, group);
  }

  /** Forgets committed offsets of `group` on `topic`: `partitions`, or all when undefined. Resolves once durable. */
  uncommit(topic: string, group: string, partitions?: readonly number[]): Promise<void> {
    const current = this.#commits.get(topic)?.get(group);
    if (current !== undefined) {
      if (partitions === undefined) current.clear();
      else for (const partition of partitions) current.delete(partition);
      if (current.size === 0) this.#commits.get(topic)!.delete(group);
    }
    return this.#enqueueCommits(topic, group);
  }

  #enqueueCommits(topic: string, group: string): Promise<void> {
    return this.#enqueue(`${topic}\0c\0${group}`, () => ({
      topic,
      group,
      commits: toStoredCommits(this.#commits.get(topic)?.get(group) ?? new Map()),
    }));
  }

  /** Forgets every position of both kinds on `topic` (it was deleted); resolves once that is durable. */
  forgetTopic(topic: string): Promise<void> {
    for (const key of [...this.#queue.keys()]) if (key.startsWith(`${topic}\0`)) this.#queue.delete(key);
    this.#commits.delete(topic);
    return this.#enqueue(`${topic}\0`, () => {
      this.#positions.delete(topic);
      return { topic, deleted: true };
    });
  }

  /** Waits for the running and queued rounds, then closes the journal. Idempotent. */
  async close(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    if (this.#closed) return;
    this.#closed = true;
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) await this.#fileSystem.close(fd);
  }

  #enqueue(key: string, op: () => Op): Promise<void> {
    if (this.#closed) return Promise.reject(new BrokerStorageError(`${this.#file} is closed`, undefined));
    this.#queue.delete(key); // re-inserted last, so ops keep their request order
    this.#queue.set(key, op);
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#writing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    // Waiters of the last round whose record is durable but whose commit marker is not yet.
    let unmarked: Waiter[] = [];
    // Each round takes everything queued so far; the queue holds one op per group and kind at most.
    while (this.#waiters.length > 0 || unmarked.length > 0) {
      const queue = this.#queue;
      const waiters = this.#waiters;
      const previous = unmarked;
      this.#queue = new Map();
      this.#waiters = [];
      try {
        const ops = [...queue.values()].map((op) => op());
        let settled: Waiter[];
        if (this.#mustCompact || this.#size >= this.#compactAtBytes) {
          await this.#compact(); // one record and its marker: both rounds are marked at once
          settled = [...previous, ...waiters];
          unmarked = [];
        } else if (!this.#durable) {
          await this.#append(encodeRecord(ops)); // nothing is synced, so nothing is marked
          settled = waiters;
        } else {
          // The previous round's record is durable: its marker rides with this round's record.
          const parts = previous.length > 0 ? [encodeMarker(this.#size)] : [];
          if (waiters.length > 0) parts.push(encodeRecord(ops));
          await this.#append(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
          settled = previous;
          unmarked = waiters;
        }
        for (const waiter of settled) waiter.resolve();
      } catch (error) {
        unmarked = [];
        // Memory may hold part of this round (an op failed, or the append did): rewrite it all next.
        this.#mustCompact = true;
        // A broken invariant is a bug and surfaces as itself; anything else is the disk's.
        const failure =
          error instanceof InvariantError
            ? error
            : new BrokerStorageError(
                `cannot store group positions in ${this.#file}: ${(error as Error).message}; check free space and permissions`,
                error,
              );
        for (const waiter of [...previous, ...waiters]) waiter.reject(failure);
      }
    }
    this.#writing = undefined;
  }

  async #append(bytes: Buffer): Promise<void> {
    const fd = this.#fd!;
    await writeAll(this.#fileSystem, fd, bytes, this.#size);
    if (this.#durable) await this.#fileSystem.fdatasync(fd);
    this.#size += bytes.byteLength;
  }

  /** The live state as ops: one per group and kind. */
  #liveOps(): Op[] {
    const ops: Op[] = [];
    for (const [topic, groups] of this.#positions) {
      for (const [group, partitions] of groups) ops.push({ topic, group, partitions });
    }
    for (const [topic, groups] of this.#commits) {
      for (const [group, commits] of groups) ops.push({ topic, group, commits: toStoredCommits(commits) });
    }
    return ops;
  }

  /**
   * Replaces the journal with one record of every live position and its commit marker
   * (atomically: the file is synced before it is renamed into place) and reopens it.
   */
  async #compact(): Promise<void> {
    const ops = this.#liveOps();
    let record = ops.length === 0 ? Buffer.alloc(0) : encodeRecord(ops);
    if (record.byteLength > 0 && this.#durable) {
      record = Buffer.concat([record, encodeMarker(record.byteLength)]);
    }
    const temporary = `${this.#file}.tmp`;
    const fileSystem = this.#fileSystem;
    const previous = this.#fd;
    this.#fd = undefined;
    if (previous !== undefined) await fileSystem.close(previous);
    const fd = await fileSystem.open(temporary, 'w', METADATA_FILE_MODE);
    try {
      await writeAll(fileSystem, fd, record, 0);
      if (this.#durable) await fileSystem.fdatasync(fd);
    } finally {
      await fileSystem.close(fd);
    }
    await fileSystem.rename(temporary, this.#file);
    if (this.#durable) await syncDirectory(fileSystem, path.dirname(this.#file));
    this.#fd = await fileSystem.open(this.#file, 'r+', METADATA_FILE_MODE);
    this.#size = record.byteLength;
    this.#compactAtBytes = Math.max(COMPACTION_BYTES_MIN, 4 * record.byteLength);
    this.#mustCompact = false;
  }
}
