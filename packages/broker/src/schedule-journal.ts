/**
 * The embedded broker's schedule on disk: a journal of `add`, `done` and `cancel` records in a
 * log partition of its own (`<data dir>/schedule/journal-<generation>/`, outside the topics), so it
 * has the log's fault model: a record is acknowledged only once fsynced (per the broker's fsync
 * policy), a torn tail is truncated on recovery, a CRC failure below it is `LOG_CORRUPT`.
 *
 * Replaying the journal gives the messages still waiting. `compact` writes those into the next
 * generation, then switches `schedule/current` (replaced atomically) to it and removes the old one,
 * so the journal's size follows what waits, not everything ever scheduled. A crash before the
 * switch leaves the old generation current (the new one is removed on the next open); after it,
 * the new one.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TransportMessage } from '@herald/bus';
import {
  type FileSystem,
  type FsyncPolicy,
  type LogRecord,
  nodeFileSystem,
  openPartition,
  type Partition,
  type RecordInput,
} from '@herald/log';
import { readChecked, syncDirectory, writeChecked } from './atomic-file.ts';
import { BrokerCorruptError } from './errors.ts';

/** A scheduled message as kept: its target topic, time and the message itself. */
export interface ScheduledEntry {
  readonly id: string;
  readonly topic: string;
  readonly atMs: number;
  readonly message: TransportMessage;
}

/** Bytes read from the journal at once while replaying. */
const REPLAY_READ_BYTES = 4 * 1024 * 1024;
/** Most entries per batch when a compaction rewrites them. */
const COMPACT_BATCH_ENTRIES = 500;
/** Most message bytes per batch when a compaction rewrites them (a larger entry goes alone). */
const COMPACT_BATCH_BYTES = 4 * 1024 * 1024;
/** Room for a journal record's own fields (id, topic, time, header names) beside the message. */
const RECORD_OVERHEAD_BYTES = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (value: string) => encoder.encode(value);

/** The journal record that keeps `entry`. */
function addRecord(entry: ScheduledEntry): RecordInput {
  const headers: [string, Uint8Array][] = [
    ['op', text('add')],
    ['topic', text(entry.topic)],
    ['at', text(String(entry.atMs))],
  ];
  if (entry.message.key !== undefined) headers.push(['key', text(entry.message.key)]);
  for (const [name, value] of Object.entries(entry.message.headers)) headers.push([`h:${name}`, text(value)]);
  return { key: text(entry.id), value: entry.message.body, headers };
}

/** The journal record that ends `id`'s wait (delivered or cancelled). */
function endRecord(id: string, op: 'done' | 'cancel'): RecordInput {
  return { key: text(id), value: null, headers: [['op', text(op)]] };
}

/** Applies one journal record to `waiting`. */
function apply(record: LogRecord, waiting: Map<string, ScheduledEntry>): void {
  const id = decoder.decode(record.key ?? new Uint8Array());
  let op = '';
  let topic = '';
  let atMs = Number.NaN;
  let key: string | undefined;
  const headers: Record<string, string> = {};
  for (const [name, value] of record.headers) {
    const decoded = decoder.decode(value ?? new Uint8Array());
    if (name === 'op') op = decoded;
    else if (name === 'topic') topic = decoded;
    else if (name === 'at') atMs = Number(decoded);
    else if (name === 'key') key = decoded;
    else if (name.startsWith('h:')) headers[name.slice(2)] = decoded;
  }
  if (op === 'add' && topic !== '' && Number.isFinite(atMs)) {
    waiting.set(id, {
      id,
      topic,
      atMs,
      message: { key, headers, body: (record.value ?? new Uint8Array()).slice() },
    });
  } else if (op === 'done' || op === 'cancel') {
    waiting.delete(id);
  } else {
    throw new BrokerCorruptError(
      `schedule journal record at offset ${record.offset} is not an add, done or cancel record; ` +
        'restore the data directory from a backup or remove its schedule/ directory (losing scheduled messages)',
    );
  }
}

/** The open journal of one broker. */
export class ScheduleJournal {
  readonly #directory: string;
  readonly #fsync: FsyncPolicy;
  /** The broker's file system for the metadata file and the journal's partitions. */
  readonly #fileSystem: FileSystem;
  readonly #limits: { readonly recordBytesMax: number };
  #partition: Partition;
  #generation: number;

  private constructor(
    directory: string,
    fsync: FsyncPolicy,
    limits: { readonly recordBytesMax: number },
    partition: Partition,
    generation: number,
    fileSystem: FileSystem,
  ) {
    this.#fileSystem = fileSystem;
    this.#directory = directory;
    this.#fsync = fsync;
    this.#limits = limits;
    this.#partition = partition;
    this.#generation = generation;
  }

  /** Opens (creating) the journal under `<brokerDirectory>/schedule`; returns it with what waits. */
  static async open(
    brokerDirectory: string,
    fsync: FsyncPolicy,
    messageBytesMax: number,
    fileSystem: FileSystem = nodeFileSystem,
  ): Promise<{ journal: ScheduleJournal; waiting: Map<string, ScheduledEntry> }> {
    const directory = path.join(brokerDirectory, 'schedule');
    await fs.mkdir(directory, { recursive: true });
    const current = (await readChecked(fileSystem, path.join(directory, 'current'))) as
      | { generation?: unknown }
      | undefined;
    const generation = typeof current?.generation === 'number' ? current.generation : 0;
    // Leftovers of a compaction that crashed before or after its switch.
    for (const name of await fs.readdir(directory)) {
      if (name.startsWith('journal-') && name !== `journal-${generation}`) {
        await fs.rm(path.join(directory, name), { recursive: true, force: true });
      }
    }
    const limits = { recordBytesMax: messageBytesMax + RECORD_OVERHEAD_BYTES };
    const partition = await openPartition({
      directory: path.join(directory, `journal-${generation}`),
      fsync,
      fileSystem,
      ...limits,
    });
    const waiting = new Map<string, ScheduledEntry>();
    let offset = partition.logStartOffset;
    while (offset < partition.highWatermark) {
      const read = await partition.readRecords(offset, REPLAY_READ_BYTES);
      for (const record of read.records) apply(record, waiting);
      if (read.nextOffset <= offset) break;
      offset = read.nextOffset;
    }
    return {
      journal: new ScheduleJournal(directory, fsync, limits, partition, generation, fileSystem),
      waiting,
    };
  }

  /** Records stored in the current generation. */
  get recordCount(): number {
    return Number(this.#partition.highWatermark - this.#partition.logStartOffset);
  }

  /** Keeps `entries`; resolves once durable. */
  async add(entries: readonly ScheduledEntry[]): Promise<void> {
    await this.#partition.append(entries.map(addRecord));
  }

  /** Ends the wait of `ids`; resolves once durable. */
  async end(ids: readonly string[], op: 'done' | 'cancel'): Promise<void> {
    await this.#partition.append(ids.map((id) => endRecord(id, op)));
  }

  /**
   * Rewrites the journal as the `waiting` entries alone, in a new generation. The caller holds
   * every other journal write until it resolves.
   */
  async compact(waiting: Iterable<ScheduledEntry>): Promise<void> {
    const generation = this.#generation + 1;
    const nextDirectory = path.join(this.#directory, `journal-${generation}`);
    // A leftover of a compaction that failed earlier in this process.
    await fs.rm(nextDirectory, { recursive: true, force: true });
    const next = await openPartition({
      directory: nextDirectory,
      fsync: this.#fsync,
      fileSystem: this.#fileSystem,
      ...this.#limits,
    });
    try {
      let batch: RecordInput[] = [];
      let batchBytes = 0;
      for (const entry of waiting) {
        const bytes = entry.message.body.length + JSON.stringify(entry.message.headers).length;
        if (
          batch.length >= COMPACT_BATCH_ENTRIES ||
          (batch.length > 0 && batchBytes + bytes > COMPACT_BATCH_BYTES)
        ) {
          await next.append(batch);
          batch = [];
          batchBytes = 0;
        }
        batch.push(addRecord(entry));
        batchBytes += bytes;
      }
      if (batch.length > 0) await next.append(batch);
      await writeChecked(
        this.#fileSystem,
        path.join(this.#directory, 'current'),
        { generation },
        this.#fsync !== 'never',
      );
    } catch (error) {
      await next.close().catch(() => {});
      throw error;
    }
    const previous = this.#partition;
    this.#partition = next;
    this.#generation = generation;
    await previous.close().catch(() => {});
    await fs.rm(path.join(this.#directory, `journal-${generation - 1}`), { recursive: true, force: true });
    await syncDirectory(this.#fileSystem, this.#directory).catch(() => {});
  }

  /** Closes the journal's partition. */
  async close(): Promise<void> {
    await this.#partition.close();
  }
}
