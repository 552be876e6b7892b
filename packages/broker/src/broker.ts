/**
 * The broker core: topics made of `@herald/log` partitions, Kafka's key partitioner, durable
 * consumer groups with per-message ack/nack, and group position resets. One broker owns one data
 * directory (locked while open); everything runs in this process.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  assertTopicName,
  ClosedError,
  ConfigurationError,
  type MessageHandler,
  messageSizeBytes,
  PayloadTooLargeError,
  type SubscribeOptions,
  type Subscription,
  type TransportMessage,
} from '@herald/bus';
import { assertName, assertSubscribeOptions, partitionForKey, utf8Bytes } from '@herald/bus/internal';
import {
  type FileSystem,
  type FsyncPolicy,
  isLogError,
  LogLockedError,
  type LogStore,
  openLogStore,
  type Partition,
  type ReadResult,
} from '@herald/log';
import { readChecked, syncDirectory, writeChecked } from './atomic-file.ts';
import { ConsumerGroup, type ConsumerGroupLimits } from './consumer-group.ts';
import {
  BrokerArgumentError,
  BrokerCorruptError,
  BrokerStorageError,
  DirectoryLockedError,
  TopicExistsError,
  TopicInUseError,
  TopicNotFoundError,
} from './errors.ts';
import { GroupPositions } from './group-offsets.ts';
import type { PartitionLog, RecordToAppend, StoredRecord } from './partition-log.ts';

/** Options of {@link openBroker}. */
export interface BrokerOptions {
  /** Data directory; default `process.env.HERALD_DATA_DIR ?? './.herald'`. Locked while open. */
  readonly dir?: string;
  /** Partitions of automatically created topics and of `createTopic` without a count (default 4). */
  readonly partitions?: number;
  /** Create unknown topics on publish and subscribe (default true). */
  readonly autoCreateTopics?: boolean;
  /**
   * Durability of appends (the log's policy, default `'always'`: `publish` resolves after fsync).
   * Group positions are fsynced unless this is `'never'`.
   */
  readonly fsync?: FsyncPolicy;
  /** Largest message accepted by `publish` (body + headers + key; default 1 MiB). */
  readonly messageBytesMax?: number;
  /** A delivered message not settled within this time is redelivered (default 5 minutes). */
  readonly visibilityTimeoutMs?: number;
  /** Most records a group buffers per partition (default 1024). */
  readonly groupWindowRecordsMax?: number;
  /** Most record bytes a group buffers per partition (default 8 MiB; one record always fits). */
  readonly groupWindowBytesMax?: number;
  /** Bytes read from a partition at once (default 1 MiB; one batch is always read whole). */
  readonly fetchBytesMax?: number;
  /** Log retention: delete closed segments older than this (default: keep forever). */
  readonly retentionMs?: number;
  /** Log retention: delete the oldest closed segments above this size per partition (default: no limit). */
  readonly retentionBytes?: number;
  /** Log segment size (default the log's, 1 GiB). */
  readonly segmentBytesMax?: number;
  /** PartitionLeaderEpoch stamped on stored batches (default the log's, 0; the Kafka server uses -1). */
  readonly leaderEpoch?: number;
  /** Called with errors that have no caller to reject (a failed background read). Default: ignore. */
  readonly onError?: (error: unknown) => void;
  /**
   * Testing hook: the file system the log's partitions use (default `nodeFileSystem` of
   * `@herald/log`). Crash tests pass one that loses unsynced bytes on a kill; applications leave
   * it unset. Topic metadata and group positions still use `node:fs` directly.
   */
  readonly fileSystem?: FileSystem;
}

/** One partition of a topic, as described. */
export interface PartitionDescription {
  readonly partition: number;
  /** First offset still stored. */
  readonly logStartOffset: bigint;
  /** Offset the next message gets. */
  readonly highWatermark: bigint;
}

/** A group's position on a topic, as described. */
export interface GroupDescription {
  readonly group: string;
  /** Live subscriptions in this broker. */
  readonly members: number;
  /** Per partition: next unacked offset, acked offsets above it, and messages not yet acked. */
  readonly partitions: readonly {
    readonly partition: number;
    readonly committed: bigint;
    readonly ackedAhead: readonly bigint[];
    readonly lag: bigint;
  }[];
}

/**
 * A group as {@link Broker.listGroups} lists it. The broker keeps two kinds of positions:
 * `'acked'` ones of {@link Broker.subscribe} groups (the committed offset plus offsets acked ahead
 * of it, in the positions journal) and `'committed'` ones stored by {@link Broker.commitOffsets}
 * (Kafka-style explicit commits).
 */
export interface GroupListing {
  readonly group: string;
  readonly kind: 'acked' | 'committed';
  /** Topics the group has a position on, sorted. */
  readonly topics: readonly string[];
  /** Live subscriptions in this broker over those topics (always 0 for `'committed'`). */
  readonly members: number;
}

/** What one partition holds on disk, as {@link Broker.describeStorage} reports it. */
export interface PartitionStorage {
  readonly partition: number;
  /**
   * Bytes of the partition's segment files (`.log`), as the log counts them; index and checkpoint
   * files are not included (Kafka's DescribeLogDirs counts the same).
   */
  readonly sizeBytes: number;
  /** Segments, the active one included (at least 1). */
  readonly segmentCount: number;
}

/** What {@link Broker.describeTopic} reports. */
export interface TopicDescription {
  readonly name: string;
  readonly createdAtMs: number;
  readonly partitions: readonly PartitionDescription[];
  /** The settings this topic overrides (empty when it uses the broker's). */
  readonly config: TopicConfig;
}

/**
 * Log settings of one topic that override the broker's, set when the topic is created and stored
 * with it (they apply again after a restart). Sizes are bytes, durations milliseconds; `Infinity`
 * means no limit where the log allows it.
 */
export interface TopicConfig {
  /** Delete closed segments whose newest record is older than this (Infinity: keep). */
  readonly retentionMs?: number;
  /** Delete the oldest closed segments while a partition is larger than this (Infinity: no limit). */
  readonly retentionBytes?: number;
  /** Roll to a new segment before one would exceed this size (at most 2^31 - 1). */
  readonly segmentBytesMax?: number;
  /** Roll a non-empty segment this long after its first append (Infinity: never by age). */
  readonly segmentAgeMsMax?: number;
  /** Largest stored batch (at most 2^31 - 1); records up to this size are accepted too. */
  readonly batchBytesMax?: number;
}

const TOPIC_CONFIG_KEYS = [
  'retentionMs',
  'retentionBytes',
  'segmentBytesMax',
  'segmentAgeMsMax',
  'batchBytesMax',
] as const;
/** Settings whose value may be Infinity. */
const TOPIC_CONFIG_UNBOUNDED = new Set<string>(['retentionMs', 'retentionBytes', 'segmentAgeMsMax']);
/** Largest size the log takes for a segment or a batch. */
const TOPIC_CONFIG_BYTES_LIMIT = 2 ** 31 - 1;

/** Throws {@link ConfigurationError} naming the first setting of `config` the log cannot take. */
function checkTopicConfig(config: TopicConfig, context: string): void {
  for (const [key, value] of Object.entries(config)) {
    if (!(TOPIC_CONFIG_KEYS as readonly string[]).includes(key)) {
      throw new ConfigurationError(`${context}: unknown topic setting ${key}`);
    }
    const unbounded = TOPIC_CONFIG_UNBOUNDED.has(key) && value === Number.POSITIVE_INFINITY;
    const bounded =
      Number.isSafeInteger(value) &&
      value >= 1 &&
      (!key.endsWith('BytesMax') || value <= TOPIC_CONFIG_BYTES_LIMIT);
    if (!unbounded && !bounded) {
      throw new ConfigurationError(
        `${context}: ${key} must be a positive integer${key.endsWith('BytesMax') ? ' up to 2^31 - 1' : ''}${TOPIC_CONFIG_UNBOUNDED.has(key) ? ' or Infinity' : ''}, got ${String(value)}`,
      );
    }
  }
}

/** The config as stored in topic metadata: Infinity, which JSON lacks, as null. */
function storedTopicConfig(config: TopicConfig): Record<string, number | null> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, value === Number.POSITIVE_INFINITY ? null : value]),
  );
}

function loadedTopicConfig(stored: unknown, file: string): TopicConfig {
  if (stored === undefined) return {}; // written before topics had settings
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) {
    throw new BrokerCorruptError(`${file} has a config that is not an object; restore it from a backup`);
  }
  const config = Object.fromEntries(
    Object.entries(stored).map(([key, value]) => [key, value === null ? Number.POSITIVE_INFINITY : value]),
  ) as TopicConfig;
  try {
    checkTopicConfig(config, file);
  } catch (error) {
    throw new BrokerCorruptError(`${(error as Error).message}; restore the file from a backup`);
  }
  return config;
}

/** Where {@link Broker.resetGroup} moves a group. */
export type ResetTarget =
  | { readonly to: 'earliest' }
  | { readonly to: 'latest' }
  /** The first message at or after the timestamp in each partition (latest where none is). */
  | { readonly to: 'timestamp'; readonly timestampMs: number }
  /** Explicit offsets; partitions not listed keep their position. */
  | { readonly to: 'offsets'; readonly offsets: Readonly<Record<number, bigint>> };

/** Most partitions a topic may have. */
export const PARTITIONS_MAX = 1024;
/** Bytes one append carries at most; larger publishes are split (the log's batch limit is 8 MiB). */
const APPEND_BYTES_MAX = 4 * 1024 * 1024;
/** Per-record overhead estimate used when splitting appends (Kafka record framing). */
const RECORD_OVERHEAD_BYTES = 64;
const TOPIC_FORMAT = 1;

interface TopicMetadata {
  readonly format: number;
  readonly name: string;
  readonly partitions: number;
  readonly createdAtMs: number;
  /** Settings overriding the broker's (absent in files written before topics had settings). */
  readonly config?: Record<string, number | null>;
}

interface TopicState {
  readonly metadata: TopicMetadata;
  readonly config: TopicConfig;
  readonly logs: PartitionLog[];
  readonly groups: Map<string, Promise<ConsumerGroup>>;
  readonly unsubscribes: (() => void)[];
  nextKeylessPartition: number;
  deleted: boolean;
}

/** Opens the broker in `options.dir`. Throws {@link DirectoryLockedError} when another broker holds it. */
export async function openBroker(options: BrokerOptions = {}): Promise<Broker> {
  const directory = path.resolve(options.dir ?? process.env.HERALD_DATA_DIR ?? './.herald');
  const partitions = options.partitions ?? 4;
  checkPartitionCount(partitions, 'openBroker');
  const fsync = options.fsync ?? 'always';
  let store: LogStore;
  try {
    store = await openLogStore({
      directory,
      ...(options.fileSystem === undefined ? {} : { fileSystem: options.fileSystem }),
      partitionDefaults: {
        fsync,
        recordBytesMax: Math.max(options.messageBytesMax ?? 1024 * 1024, 1),
        ...(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs }),
        ...(options.retentionBytes === undefined ? {} : { retentionBytes: options.retentionBytes }),
        ...(options.segmentBytesMax === undefined ? {} : { segmentBytesMax: options.segmentBytesMax }),
        ...(options.leaderEpoch === undefined ? {} : { leaderEpoch: options.leaderEpoch }),
      },
    });
  } catch (error) {
    if (isLogError(error, 'LOG_LOCKED')) {
      const detail = error.message.replace(/^cannot open log at [^:]*: /, '');
      const pid = error instanceof LogLockedError ? error.pid : undefined;
      throw new DirectoryLockedError(directory, pid, detail, error);
    }
    throw new BrokerStorageError(`cannot open broker at ${directory}: ${(error as Error).message}`, error);
  }
  const broker = new Broker(directory, store, { ...options, partitions, fsync });
  try {
    await broker.load();
  } catch (error) {
    await broker.close().catch(() => {});
    throw error;
  }
  return broker;
}

/** An open broker. Create with {@link openBroker}. */
export class Broker {
  /** The data directory (absolute). */
  readonly directory: string;
  /** Largest message `publish` accepts. */
  readonly messageBytesMax: number;
  readonly #store: LogStore;
  readonly #options: BrokerOptions & { partitions: number; fsync: FsyncPolicy };
  readonly #limits: ConsumerGroupLimits;
  readonly #durable: boolean;
  /** Every group's position (set by {@link load}). */
  #positions: GroupPositions | undefined;
  readonly #topics = new Map<string, Promise<TopicState>>();
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Committed offsets of {@link Broker.commitOffsets}, by `topic\0group`, with the write chain. */
  readonly #commits = new Map<string, CommitEntry>();
  #closing: Promise<void> | undefined;

  /** @internal Use {@link openBroker}. */
  constructor(
    directory: string,
    store: LogStore,
    options: BrokerOptions & { partitions: number; fsync: FsyncPolicy },
  ) {
    this.directory = directory;
    this.#store = store;
    this.#options = options;
    this.messageBytesMax = options.messageBytesMax ?? 1024 * 1024;
    this.#limits = {
      windowRecordsMax: positive(options.groupWindowRecordsMax ?? 1024, 'groupWindowRecordsMax'),
      windowBytesMax: positive(options.groupWindowBytesMax ?? 8 * 1024 * 1024, 'groupWindowBytesMax'),
      fetchBytesMax: positive(options.fetchBytesMax ?? 1024 * 1024, 'fetchBytesMax'),
      visibilityTimeoutMs: positive(options.visibilityTimeoutMs ?? 5 * 60_000, 'visibilityTimeoutMs'),
    };
    this.#durable = options.fsync !== 'never';
  }

  get #topicsDirectory(): string {
    return path.join(this.directory, 'topics');
  }

  #groupsDirectory(topic: string): string {
    return path.join(this.directory, 'groups', topic);
  }

  /** @internal Reads topic metadata, removes leftovers of interrupted deletions, opens partitions. */
  async load(): Promise<void> {
    await fs.mkdir(this.#topicsDirectory, { recursive: true });
    await fs.mkdir(path.join(this.directory, 'groups'), { recursive: true });
    const known = new Map<string, TopicMetadata>();
    for (const file of await fs.readdir(this.#topicsDirectory)) {
      if (!file.endsWith('.json')) continue;
      const metadata = await readTopicMetadata(path.join(this.#topicsDirectory, file));
      if (metadata !== undefined) known.set(metadata.name, metadata);
    }
    // A crash during deleteTopic leaves partitions or group files without metadata: finish it.
    for (const name of await this.#store.listPartitions()) {
      const metadata = known.get(name.topic);
      if (metadata !== undefined && name.partition < metadata.partitions) continue;
      // Only directories the log wrote: a stray `notes-1/` of the user's is left alone.
      const files = await fs.readdir(path.join(this.directory, `${name.topic}-${name.partition}`));
      if (files.some((file) => file === 'partition.checkpoint' || file.endsWith('.log'))) {
        await this.#store.deletePartition(name);
      }
    }
    for (const topic of await fs.readdir(path.join(this.directory, 'groups'))) {
      if (!known.has(topic)) await fs.rm(this.#groupsDirectory(topic), { recursive: true, force: true });
    }
    this.#positions = await GroupPositions.open(this.directory, new Set(known.keys()), this.#durable);
    for (const metadata of known.values()) this.#remember(metadata.name, this.#openTopic(metadata));
    await Promise.all(this.#topics.values());
  }

  /**
   * Creates a topic, with `config` overriding the broker's log settings for it (stored with the
   * topic); throws {@link TopicExistsError} if it exists, {@link ConfigurationError} for a
   * partition count or setting out of range.
   */
  async createTopic(
    name: string,
    options: { readonly partitions?: number; readonly config?: TopicConfig } = {},
  ): Promise<TopicDescription> {
    this.#checkOpen();
    assertTopicName(name, 'createTopic');
    const partitions = options.partitions ?? this.#options.partitions;
    checkPartitionCount(partitions, 'createTopic');
    const config = options.config ?? {};
    checkTopicConfig(config, 'createTopic');
    const existing = this.#topics.get(name);
    if (existing !== undefined) {
      const state = await existing.catch(() => undefined);
      if (state !== undefined && !state.deleted) throw new TopicExistsError(name, state.metadata.partitions);
    }
    await this.#ensureTopic(name, partitions, true, config);
    return this.describeTopic(name);
  }

  /**
   * Deletes a topic with its messages and group positions. Throws {@link TopicInUseError} while a
   * subscription reads it, {@link TopicNotFoundError} if it does not exist.
   */
  async deleteTopic(name: string): Promise<void> {
    this.#checkOpen();
    assertTopicName(name, 'deleteTopic');
    const state = await this.#existingTopic(name, 'deleteTopic');
    const live: string[] = [];
    for (const [group, opening] of state.groups) {
      const consumerGroup = await opening.catch(() => undefined);
      if (consumerGroup !== undefined && consumerGroup.memberCount > 0) live.push(group);
    }
    if (live.length > 0) throw new TopicInUseError(name, live);
    state.deleted = true;
    this.#topics.delete(name);
    for (const key of [...this.#commits.keys()]) if (key.startsWith(`${name}\0`)) this.#commits.delete(key);
    for (const unsubscribe of state.unsubscribes) unsubscribe();
    for (const opening of state.groups.values()) await (await opening.catch(() => undefined))?.close();
    // Removing the metadata is the commit point; what follows is cleanup that load() redoes.
    try {
      await fs.rm(topicMetadataFile(this.#topicsDirectory, name), { force: true });
      if (this.#durable) await syncDirectory(this.#topicsDirectory);
      // Durable before a topic of the same name can be created again (load() drops them too).
      await this.#positions!.forgetTopic(name);
      for (let partition = 0; partition < state.metadata.partitions; partition++) {
        await this.#store.deletePartition({ topic: name, partition });
      }
      await fs.rm(this.#groupsDirectory(name), { recursive: true, force: true });
    } catch (error) {
      throw new BrokerStorageError(
        `deleteTopic: cannot delete topic "${name}": ${(error as Error).message}`,
        error,
      );
    }
  }

  /** Names of every topic, sorted. */
  listTopics(): string[] {
    this.#checkOpen();
    return [...this.#topics.keys()].sort();
  }

  /** Partitions and their offsets; throws {@link TopicNotFoundError} if the topic does not exist. */
  async describeTopic(name: string): Promise<TopicDescription> {
    this.#checkOpen();
    const state = await this.#existingTopic(name, 'describeTopic');
    return {
      name,
      createdAtMs: state.metadata.createdAtMs,
      partitions: state.logs.map((log, partition) => ({
        partition,
        logStartOffset: log.logStartOffset,
        highWatermark: log.highWatermark,
      })),
      config: state.config,
    };
  }

  /** A group's position on a topic (from memory if the group is open, else from disk). */
  async describeGroup(topic: string, group: string): Promise<GroupDescription> {
    this.#checkOpen();
    assertName(group, 'group', 'describeGroup');
    const state = await this.#existingTopic(topic, 'describeGroup');
    const open = await state.groups.get(group)?.catch(() => undefined);
    const position = open?.position() ?? this.#positions!.get(topic, group) ?? new Map();
    return {
      group,
      members: open?.memberCount ?? 0,
      partitions: state.logs.map((log, partition) => {
        const stored = position.get(partition);
        const committed = stored?.committed ?? log.logStartOffset;
        const ackedAhead = stored?.ackedAhead ?? [];
        const lag = log.highWatermark - committed - BigInt(ackedAhead.length);
        return { partition, committed, ackedAhead, lag: lag < 0n ? 0n : lag };
      }),
    };
  }

  /**
   * Moves a group's position on a topic: replay from the earliest retained message, skip to the
   * latest, start at a timestamp, or at explicit offsets. Refused with `GroupActiveError` while the
   * group has live subscriptions. Unsettled deliveries are forgotten.
   */
  async resetGroup(topic: string, group: string, target: ResetTarget): Promise<GroupDescription> {
    this.#checkOpen();
    assertName(group, 'group', 'resetGroup');
    const state = await this.#existingTopic(topic, 'resetGroup');
    const consumerGroup = await this.#group(state, group);
    await consumerGroup.reset(async (partition) => {
      const log = state.logs[partition]!;
      switch (target.to) {
        case 'earliest':
          return log.logStartOffset;
        case 'latest':
          return log.highWatermark;
        case 'timestamp':
          if (!Number.isFinite(target.timestampMs)) {
            throw new BrokerArgumentError(
              `resetGroup: timestampMs ${target.timestampMs} is not a finite number`,
            );
          }
          return (await log.offsetForTimestamp(target.timestampMs)) ?? log.highWatermark;
        case 'offsets': {
          const offset = target.offsets[partition];
          if (offset === undefined) return consumerGroup.position().get(partition)!.committed;
          if (typeof offset !== 'bigint' || offset < log.logStartOffset || offset > log.highWatermark) {
            throw new BrokerArgumentError(
              `resetGroup: offset ${String(offset)} of ${topic}/${partition} is outside the stored range ` +
                `${log.logStartOffset}..${log.highWatermark}; pick an offset in that range`,
            );
          }
          return offset;
        }
        default:
          throw new BrokerArgumentError(
            `resetGroup: unknown target ${JSON.stringify(target)}; use earliest, latest, timestamp or offsets`,
          );
      }
    });
    return this.describeGroup(topic, group);
  }

  /**
   * Appends one producer-encoded RecordBatch v2 to `partition` of `topic` unchanged but for its
   * BaseOffset and PartitionLeaderEpoch (the Kafka Produce path; batches stay opaque, so every
   * compression codec works). The log validates size, magic, CRC-32C and record count first, so a
   * corrupt batch is never stored. Throws {@link TopicNotFoundError}, {@link BrokerArgumentError}
   * for a partition outside the topic, or {@link BrokerStorageError} whose `cause` is the log's
   * error (`LOG_INVALID_BATCH`, `LOG_BATCH_TOO_LARGE`, `LOG_RECORD_TOO_LARGE`, `LOG_QUEUE_FULL`...).
   */
  async appendBatch(
    topic: string,
    partition: number,
    batch: Uint8Array,
  ): Promise<{ baseOffset: bigint; lastOffset: bigint }> {
    this.#checkOpen();
    const log = await this.#rawPartition(topic, partition, 'appendBatch');
    const operation = log.appendBatch(batch);
    this.#inFlight.add(operation);
    try {
      return await operation;
    } catch (error) {
      throw storageFailure(`appendBatch to ${topic}/${partition}`, error);
    } finally {
      this.#inFlight.delete(operation);
    }
  }

  /**
   * Whole stored batches of `partition` from the one holding `offset`, up to `bytesMax` (always at
   * least one batch), as the log returns them (see `Partition.read`). Throws the log's
   * `LOG_OFFSET_OUT_OF_RANGE` (wrapped in {@link BrokerStorageError}) outside the stored range.
   */
  async readBatches(topic: string, partition: number, offset: bigint, bytesMax: number): Promise<ReadResult> {
    this.#checkOpen();
    const log = await this.#rawPartition(topic, partition, 'readBatches');
    try {
      return await log.read(offset, bytesMax);
    } catch (error) {
      throw storageFailure(`read ${topic}/${partition}`, error);
    }
  }

  /** The log start offset and high watermark of one partition. */
  async partitionOffsets(
    topic: string,
    partition: number,
  ): Promise<{ logStartOffset: bigint; highWatermark: bigint }> {
    const log = await this.#rawPartition(topic, partition, 'partitionOffsets');
    return { logStartOffset: log.logStartOffset, highWatermark: log.highWatermark };
  }

  /** The first offset of `partition` whose record timestamp is at or after `timestampMs`, or undefined. */
  async offsetForTimestamp(
    topic: string,
    partition: number,
    timestampMs: number,
  ): Promise<bigint | undefined> {
    return (await this.recordForTimestamp(topic, partition, timestampMs))?.offset;
  }

  /**
   * The offset and timestamp of the first record of `partition` whose timestamp is at or after
   * `timestampMs`, or undefined (what a Kafka ListOffsets by timestamp answers).
   */
  async recordForTimestamp(
    topic: string,
    partition: number,
    timestampMs: number,
  ): Promise<{ readonly offset: bigint; readonly timestampMs: number } | undefined> {
    const log = await this.#rawPartition(topic, partition, 'offsetForTimestamp');
    try {
      const found = await log.offsetForTimestamp(timestampMs);
      return found === undefined ? undefined : { offset: found.offset, timestampMs: found.timestampMs };
    } catch (error) {
      throw storageFailure(`offsetForTimestamp on ${topic}/${partition}`, error);
    }
  }

  /**
   * Calls `listener` whenever `partition` of an open topic gets new readable records (long-poll
   * fetches wait on it instead of polling). Returns the unsubscribe function; a no-op when the
   * partition is not open.
   */
  onPartitionAppend(topic: string, partition: number, listener: () => void): () => void {
    const log = this.#store.getPartition({ topic, partition });
    if (log === undefined || this.#closing !== undefined) return () => {};
    return log.onAppend(() => listener());
  }

  /**
   * Stores Kafka-style committed offsets of `group` on `topic` (explicit commits of the next
   * offset to read, as a Kafka group coordinator keeps them), merged with earlier commits, in
   * `groups/<topic>/<group>.commits`. An entry is an offset, or an offset with the commit's
   * metadata string (a bare offset stores no metadata: it reads back null). As Kafka, any 64-bit
   * offset is stored, negative ones too (clients commit -1 and -2 to mean "reset to latest" and
   * "to earliest"); metadata is at most {@link COMMIT_METADATA_BYTES_MAX} UTF-8 bytes. Kept apart
   * from the acked positions of {@link subscribe} groups. Durable (fsynced) unless the broker's
   * fsync policy is `'never'`.
   */
  async commitOffsets(
    topic: string,
    group: string,
    offsets: ReadonlyMap<number, bigint | CommittedOffset>,
  ): Promise<void> {
    this.#checkOpen();
    assertName(group, 'group', 'commitOffsets');
    const state = await this.#existingTopic(topic, 'commitOffsets');
    const commits = new Map<number, CommittedOffset>();
    for (const [partition, entry] of offsets) {
      if (!Number.isInteger(partition) || partition < 0 || partition >= state.metadata.partitions) {
        throw new BrokerArgumentError(`commitOffsets: ${topic} has no partition ${partition}`);
      }
      const commit = typeof entry === 'bigint' ? { offset: entry, metadata: null } : entry;
      if (typeof commit.offset !== 'bigint' || commit.offset < INT64_MIN || commit.offset > INT64_MAX) {
        throw new BrokerArgumentError(
          `commitOffsets: offset ${String(commit.offset)} is not a 64-bit bigint`,
        );
      }
      if (
        commit.metadata !== null &&
        (typeof commit.metadata !== 'string' ||
          Buffer.byteLength(commit.metadata) > COMMIT_METADATA_BYTES_MAX)
      ) {
        throw new BrokerArgumentError(
          `commitOffsets: metadata of partition ${partition} must be null or a string of at most ${COMMIT_METADATA_BYTES_MAX} bytes`,
        );
      }
      commits.set(partition, { offset: commit.offset, metadata: commit.metadata });
    }
    const entry = await this.#commitEntry(topic, group);
    for (const [partition, commit] of commits) entry.commits.set(partition, commit);
    const stored = storedCommits(topic, group, entry.commits);
    const file = commitsFile(this.#groupsDirectory(topic), group);
    // Writes of one file are chained so a slow earlier write never lands after a later one.
    const writing = entry.writing.then(async () => {
      await fs.mkdir(this.#groupsDirectory(topic), { recursive: true });
      await writeChecked(file, stored, this.#durable);
    });
    entry.writing = writing.catch(() => {});
    this.#inFlight.add(writing);
    try {
      await writing;
    } catch (error) {
      throw new BrokerStorageError(`commitOffsets: cannot store offsets of "${group}" on "${topic}"`, error);
    } finally {
      this.#inFlight.delete(writing);
    }
  }

  /** Offsets stored by {@link commitOffsets} for `group` on `topic`, by partition (empty when none). */
  async committedOffsets(topic: string, group: string): Promise<ReadonlyMap<number, bigint>> {
    const commits = await this.committedOffsetsWithMetadata(topic, group);
    return new Map([...commits].map(([partition, { offset }]) => [partition, offset]));
  }

  /**
   * Offsets and metadata stored by {@link commitOffsets} for `group` on `topic`, by partition
   * (empty when none); metadata is null for a commit stored without it.
   */
  async committedOffsetsWithMetadata(
    topic: string,
    group: string,
  ): Promise<ReadonlyMap<number, CommittedOffset>> {
    this.#checkOpen();
    assertName(group, 'group', 'committedOffsets');
    await this.#existingTopic(topic, 'committedOffsets');
    return new Map((await this.#commitEntry(topic, group)).commits);
  }

  /**
   * Forgets offsets stored by {@link commitOffsets} for `group` on `topic`: the given partitions,
   * or all of them when `partitions` is undefined (Kafka's OffsetDelete and DeleteGroups). The
   * file is rewritten, or removed once no partition is left. Durable as {@link commitOffsets}.
   */
  async deleteCommittedOffsets(topic: string, group: string, partitions?: readonly number[]): Promise<void> {
    this.#checkOpen();
    assertName(group, 'group', 'deleteCommittedOffsets');
    await this.#existingTopic(topic, 'deleteCommittedOffsets');
    const entry = await this.#commitEntry(topic, group);
    if (partitions === undefined) entry.commits.clear();
    else for (const partition of partitions) entry.commits.delete(partition);
    const stored = storedCommits(topic, group, entry.commits);
    const keep = entry.commits.size > 0;
    const file = commitsFile(this.#groupsDirectory(topic), group);
    const writing = entry.writing.then(async () => {
      if (keep) {
        await writeChecked(file, stored, this.#durable);
      } else {
        await fs.rm(file, { force: true });
      }
    });
    entry.writing = writing.catch(() => {});
    this.#inFlight.add(writing);
    try {
      await writing;
    } catch (error) {
      throw new BrokerStorageError(
        `deleteCommittedOffsets: cannot update offsets of "${group}" on "${topic}"`,
        error,
      );
    } finally {
      this.#inFlight.delete(writing);
    }
  }

  /** Topics on which `group` has offsets stored by {@link commitOffsets}, sorted. */
  async committedTopics(group: string): Promise<string[]> {
    this.#checkOpen();
    assertName(group, 'group', 'committedTopics');
    const topics: string[] = [];
    for (const topic of this.listTopics()) {
      const cached = this.#commits.get(`${topic}\0${group}`);
      if (
        cached !== undefined
          ? cached.commits.size > 0
          : await fileExists(commitsFile(this.#groupsDirectory(topic), group))
      ) {
        topics.push(topic);
      }
    }
    return topics;
  }

  /**
   * Groups with offsets stored by {@link commitOffsets} on any topic, sorted (read-only: what a
   * Kafka ListGroups reports for groups that only have committed offsets).
   */
  async committedGroups(): Promise<string[]> {
    this.#checkOpen();
    const groups = new Set<string>();
    for (const topic of this.listTopics()) {
      for (const group of await this.#committedGroupsOn(topic)) groups.add(group);
    }
    return [...groups].sort();
  }

  /** Groups with offsets stored by {@link commitOffsets} on `topic`, in no particular order. */
  async #committedGroupsOn(topic: string): Promise<string[]> {
    const groups = new Set<string>();
    for (const [key, entry] of this.#commits) {
      if (entry.commits.size > 0 && key.startsWith(`${topic}\0`)) groups.add(key.slice(topic.length + 1));
    }
    let files: string[];
    try {
      files = await fs.readdir(this.#groupsDirectory(topic));
    } catch {
      return [...groups]; // no commits on this topic yet
    }
    for (const file of files) {
      if (!file.endsWith(COMMITS_SUFFIX)) continue;
      const group = file.slice(0, -COMMITS_SUFFIX.length);
      try {
        assertName(group, 'group', 'committedGroups');
      } catch {
        continue; // not a file commitOffsets wrote
      }
      // A cached entry is authoritative (the file may be mid-write); otherwise the file is.
      if (!this.#commits.has(`${topic}\0${group}`)) groups.add(group);
    }
    return [...groups];
  }

  /**
   * Every group this broker stores a position for, with the topics it has one on: `'acked'`
   * groups are {@link subscribe} groups (their acked positions, stored or open in this broker),
   * `'committed'` groups have offsets stored by {@link commitOffsets}. A name used both ways is
   * listed once per kind. Sorted by group, then kind; topics sorted. Read-only.
   */
  async listGroups(): Promise<GroupListing[]> {
    this.#checkOpen();
    const acked = new Map<string, string[]>();
    const committed = new Map<string, string[]>();
    for (const topic of this.listTopics()) {
      for (const group of await this.#ackedGroupsOn(topic, 'listGroups')) addTopic(acked, group, topic);
      for (const group of await this.#committedGroupsOn(topic)) addTopic(committed, group, topic);
    }
    const listings: GroupListing[] = [];
    for (const [group, topics] of acked) {
      let members = 0;
      for (const topic of topics) members += await this.#memberCount(topic, group);
      listings.push({ group, kind: 'acked', topics: topics.sort(), members });
    }
    for (const [group, topics] of committed) {
      listings.push({ group, kind: 'committed', topics: topics.sort(), members: 0 });
    }
    // Code-unit order, as listTopics sorts, so the order does not depend on the locale.
    const order = (listing: GroupListing) => `${listing.group}\0${listing.kind}`;
    return listings.sort((a, b) => (order(a) < order(b) ? -1 : 1));
  }

  /**
   * Topics on which `group` has an acked position (a {@link subscribe} group, stored or open in
   * this broker), sorted; {@link describeGroup} reports that position. The counterpart of
   * {@link committedTopics}.
   */
  async ackedTopics(group: string): Promise<string[]> {
    this.#checkOpen();
    assertName(group, 'group', 'ackedTopics');
    const topics: string[] = [];
    for (const topic of this.listTopics()) {
      if ((await this.#ackedGroupsOn(topic, 'ackedTopics')).includes(group)) topics.push(topic);
    }
    return topics;
  }

  /** Groups with a stored position on `topic` or open on it in this broker. */
  async #ackedGroupsOn(topic: string, context: string): Promise<string[]> {
    const state = await this.#existingTopic(topic, context);
    const groups = new Set(this.#positions!.groups(topic));
    for (const group of state.groups.keys()) groups.add(group);
    return [...groups];
  }

  /** Live subscriptions of `group` on `topic` in this broker. */
  async #memberCount(topic: string, group: string): Promise<number> {
    const state = await this.#existingTopic(topic, 'listGroups');
    const open = await state.groups.get(group)?.catch(() => undefined);
    return open?.memberCount ?? 0;
  }

  /**
   * What each partition of `topic` holds on disk, from the log: the bytes of its segment files
   * and how many segments it has. Throws {@link TopicNotFoundError} if the topic does not exist.
   */
  async describeStorage(topic: string): Promise<PartitionStorage[]> {
    this.#checkOpen();
    const state = await this.#existingTopic(topic, 'describeStorage');
    const storage: PartitionStorage[] = [];
    for (let partition = 0; partition < state.metadata.partitions; partition++) {
      const segments = (await this.#rawPartition(topic, partition, 'describeStorage')).describeSegments();
      let sizeBytes = 0;
      for (const segment of segments) sizeBytes += segment.sizeBytes;
      storage.push({ partition, sizeBytes, segmentCount: segments.length });
    }
    return storage;
  }

  async #commitEntry(topic: string, group: string): Promise<CommitEntry> {
    const key = `${topic}\0${group}`;
    let entry = this.#commits.get(key);
    if (entry !== undefined) return entry;
    const file = commitsFile(this.#groupsDirectory(topic), group);
    const commits = decodeCommits(file, await readChecked(file));
    // Another caller may have loaded it while this one read the file.
    entry = this.#commits.get(key);
    if (entry !== undefined) return entry;
    entry = { commits, writing: Promise.resolve() };
    this.#commits.set(key, entry);
    return entry;
  }

  async #rawPartition(topic: string, partition: number, context: string): Promise<Partition> {
    const state = await this.#existingTopic(topic, context);
    if (!Number.isInteger(partition) || partition < 0 || partition >= state.metadata.partitions) {
      throw new BrokerArgumentError(
        `${context}: topic "${topic}" has partitions 0 to ${state.metadata.partitions - 1}, not ${partition}`,
      );
    }
    const log = this.#store.getPartition({ topic, partition });
    if (log === undefined) throw new TopicNotFoundError(topic, context);
    return log;
  }

  /**
   * Appends `messages` to `topic` in order: keyed messages to Kafka's murmur2 partition, keyless
   * ones of one call together to the next partition in turn. One append per partition (split
   * only above 4 MiB). Resolves once every message is durable per the fsync policy.
   */
  async publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    this.#checkOpen();
    assertTopicName(topic, 'publish');
    // Sized once here; #append reuses the sizes to split large publishes.
    const sizes = messages.map((message) => messageSizeBytes(message));
    for (const size of sizes) {
      if (size > this.messageBytesMax) throw new PayloadTooLargeError(topic, size, this.messageBytesMax);
    }
    if (messages.length === 0) return;
    const state = await this.#topicFor(topic, 'publish');
    this.#checkOpen();
    const operation = this.#append(state, messages, sizes);
    this.#inFlight.add(operation);
    try {
      await operation;
    } finally {
      this.#inFlight.delete(operation);
    }
  }

  /** `sizes[i]` is `messageSizeBytes(messages[i])`. */
  async #append(
    state: TopicState,
    messages: readonly TransportMessage[],
    sizes: readonly number[],
  ): Promise<void> {
    const partitions = state.metadata.partitions;
    const keyless = state.nextKeylessPartition;
    state.nextKeylessPartition = (keyless + 1) % partitions;
    const timestampMs = Date.now();
    const byPartition = new Map<number, { records: RecordToAppend[]; bytes: number }[]>();
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index]!;
      // utf8Bytes: TextEncoder.encode costs several times more per short string (see @herald/bus).
      const key = message.key === undefined ? null : utf8Bytes(message.key);
      const partition = key === null ? keyless : partitionForKey(key, partitions);
      const record: RecordToAppend = {
        key,
        value: message.body,
        headers: Object.entries(message.headers).map(([name, value]) => [name, utf8Bytes(value)] as const),
        timestampMs,
      };
      const bytes = sizes[index]! + RECORD_OVERHEAD_BYTES;
      let chunks = byPartition.get(partition);
      if (chunks === undefined) {
        chunks = [];
        byPartition.set(partition, chunks);
      }
      let chunk = chunks.at(-1);
      if (chunk === undefined || chunk.bytes + bytes > APPEND_BYTES_MAX) {
        chunk = { records: [], bytes: 0 };
        chunks.push(chunk);
      }
      chunk.records.push(record);
      chunk.bytes += bytes;
    }
    await Promise.all(
      [...byPartition].map(async ([partition, chunks]) => {
        const log = state.logs[partition]!;
        for (const chunk of chunks) {
          try {
            await log.append(chunk.records);
          } catch (error) {
            throw storageFailure(`publish to ${state.metadata.name}/${partition}`, error);
          }
        }
      }),
    );
  }

  /**
   * Joins `options.group` on `options.topic` and starts delivering to `handler`. Resolves once
   * registered: every message published afterwards reaches the group.
   */
  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    this.#checkOpen();
    assertSubscribeOptions(options);
    const state = await this.#topicFor(options.topic, 'subscribe');
    const group = await this.#group(state, options.group);
    this.#checkOpen();
    const membership = group.join(handler, options.inFlightMax);
    return { close: () => membership.leave() };
  }

  /**
   * Closes every subscription (their unsettled messages stay unacked, so they are redelivered
   * after the next open), waits for running publishes, stores group positions, closes the log and
   * releases the directory lock. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const states = (await Promise.allSettled(this.#topics.values()))
      .filter((result) => result.status === 'fulfilled')
      .map((result) => (result as PromiseFulfilledResult<TopicState>).value);
    const groupCloses: Promise<void>[] = [];
    for (const state of states) {
      for (const unsubscribe of state.unsubscribes) unsubscribe();
      for (const opening of state.groups.values()) {
        groupCloses.push(opening.then((group) => group.close()).catch(() => {}));
      }
    }
    await Promise.all(groupCloses);
    await Promise.allSettled([...this.#inFlight]);
    await this.#positions?.close().catch((error: unknown) => this.#options.onError?.(error));
    await this.#store.close();
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new ClosedError(`broker at ${this.directory}`);
  }

  #group(state: TopicState, name: string): Promise<ConsumerGroup> {
    let opening = state.groups.get(name);
    if (opening === undefined) {
      const topicName = state.metadata.name;
      const positions = this.#positions!;
      opening = (async () =>
        new ConsumerGroup(
          { name: topicName, logs: state.logs },
          name,
          positions.get(topicName, name),
          (position) => positions.store(topicName, name, position),
          this.#limits,
          (error) => this.#options.onError?.(error),
        ))();
      state.groups.set(name, opening);
      opening.catch(() => state.groups.delete(name));
    }
    return opening;
  }

  async #existingTopic(name: string, context: string): Promise<TopicState> {
    const state = await this.#topics.get(name);
    if (state === undefined || state.deleted) throw new TopicNotFoundError(name, context);
    return state;
  }

  /** The topic, created with the default partition count when unknown and auto-create is on. */
  async #topicFor(name: string, context: string): Promise<TopicState> {
    const existing = this.#topics.get(name);
    if (existing !== undefined) return existing;
    if (this.#options.autoCreateTopics === false) throw new TopicNotFoundError(name, context);
    return this.#ensureTopic(name, this.#options.partitions, false);
  }

  #ensureTopic(
    name: string,
    partitions: number,
    explicit: boolean,
    config: TopicConfig = {},
  ): Promise<TopicState> {
    const existing = this.#topics.get(name);
    if (existing !== undefined) {
      if (!explicit) return existing;
      return existing.then((state) => {
        throw new TopicExistsError(name, state.metadata.partitions);
      });
    }
    const metadata: TopicMetadata = {
      format: TOPIC_FORMAT,
      name,
      partitions,
      createdAtMs: Date.now(),
      // Only topics with settings list them, so their files stay readable by older brokers.
      ...(Object.keys(config).length === 0 ? {} : { config: storedTopicConfig(config) }),
    };
    const creating = (async () => {
      // The metadata file is the commit point: partitions without it are removed on the next open.
      await writeChecked(topicMetadataFile(this.#topicsDirectory, name), metadata, this.#durable);
      return this.#openTopic(metadata);
    })();
    this.#remember(name, creating);
    return creating;
  }

  #remember(name: string, opening: Promise<TopicState>): void {
    this.#topics.set(name, opening);
    opening.catch(() => {
      if (this.#topics.get(name) === opening) this.#topics.delete(name);
    });
  }

  async #openTopic(metadata: TopicMetadata): Promise<TopicState> {
    const config = loadedTopicConfig(
      metadata.config,
      topicMetadataFile(this.#topicsDirectory, metadata.name),
    );
    const overrides = {
      ...config,
      // A batch may be as large as the topic allows, so may a record in it.
      ...(config.batchBytesMax === undefined
        ? {}
        : { recordBytesMax: Math.max(config.batchBytesMax, this.messageBytesMax) }),
    };
    let partitions: Partition[];
    try {
      partitions = await Promise.all(
        Array.from({ length: metadata.partitions }, (_, partition) =>
          this.#store.openPartition({ topic: metadata.name, partition }, overrides),
        ),
      );
    } catch (error) {
      throw storageFailure(`cannot open topic "${metadata.name}"`, error);
    }
    const state: TopicState = {
      metadata,
      config,
      logs: partitions.map(adaptPartition),
      groups: new Map(),
      unsubscribes: [],
      nextKeylessPartition: 0,
      deleted: false,
    };
    partitions.forEach((partition, index) => {
      state.unsubscribes.push(
        partition.onAppend(() => {
          for (const opening of state.groups.values())
            void opening.then(
              (group) => group.onAppend(index),
              () => {},
            );
        }),
      );
    });
    return state;
  }
}

function adaptPartition(partition: Partition): PartitionLog {
  return {
    get highWatermark() {
      return partition.highWatermark;
    },
    get logStartOffset() {
      return partition.logStartOffset;
    },
    append: (records) => partition.append(records),
    readRecords: async (offset, bytesMax) =>
      (await partition.readRecords(offset, bytesMax)).records as readonly StoredRecord[],
    offsetForTimestamp: async (timestampMs) => (await partition.offsetForTimestamp(timestampMs))?.offset,
    onAppend: (listener) => partition.onAppend(() => listener()),
    close: () => partition.close(),
  };
}

/** A committed offset with the commit's metadata (null when it was committed without). */
export interface CommittedOffset {
  readonly offset: bigint;
  readonly metadata: string | null;
}

/** Longest commit metadata {@link Broker.commitOffsets} stores, in UTF-8 bytes. */
export const COMMIT_METADATA_BYTES_MAX = 1024 * 1024;

type CommitEntry = { commits: Map<number, CommittedOffset>; writing: Promise<void> };

/** Adds `topic` to the topics of `group` in `byGroup`. */
function addTopic(byGroup: Map<string, string[]>, group: string, topic: string): void {
  const topics = byGroup.get(group);
  if (topics === undefined) byGroup.set(group, [topic]);
  else topics.push(topic);
}

/**
 * A `.commits` file. `metadata` lists only partitions committed with metadata; files of brokers
 * before it have none, and those commits read back with null metadata.
 */
interface StoredCommits {
  format: number;
  topic: string;
  group: string;
  offsets: Record<string, string>;
  metadata?: Record<string, string>;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const COMMITS_FORMAT = 1;
const COMMITS_SUFFIX = '.commits';

/** The commits of a `.commits` file read by `readChecked` (undefined: no file). */
function decodeCommits(file: string, value: unknown): Map<number, CommittedOffset> {
  const commits = new Map<number, CommittedOffset>();
  if (value === undefined) return commits;
  const stored = value as Partial<StoredCommits>;
  const damaged = () =>
    new BrokerCorruptError(
      `${file} is not a commits file this broker reads; remove it to forget the offsets`,
    );
  if (stored.format !== COMMITS_FORMAT || typeof stored.offsets !== 'object' || stored.offsets === null) {
    throw damaged();
  }
  const metadata = stored.metadata ?? {};
  if (typeof metadata !== 'object' || metadata === null) throw damaged();
  for (const [partition, offset] of Object.entries(stored.offsets)) {
    const text = metadata[partition];
    if (text !== undefined && typeof text !== 'string') throw damaged();
    commits.set(Number(partition), { offset: BigInt(offset), metadata: text ?? null });
  }
  return commits;
}

/** The `.commits` file contents for `commits`; only files with metadata list it, so the others stay as older brokers wrote them. */
function storedCommits(
  topic: string,
  group: string,
  commits: ReadonlyMap<number, CommittedOffset>,
): StoredCommits {
  const stored: StoredCommits = { format: COMMITS_FORMAT, topic, group, offsets: {} };
  const metadata: Record<string, string> = {};
  for (const [partition, commit] of commits) {
    stored.offsets[partition] = String(commit.offset);
    if (commit.metadata !== null) metadata[partition] = commit.metadata;
  }
  if (Object.keys(metadata).length > 0) stored.metadata = metadata;
  return stored;
}

function commitsFile(groupsDirectory: string, group: string): string {
  return path.join(groupsDirectory, `${group}${COMMITS_SUFFIX}`);
}

async function fileExists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

function topicMetadataFile(topicsDirectory: string, name: string): string {
  return path.join(topicsDirectory, `${name}.json`);
}

async function readTopicMetadata(file: string): Promise<TopicMetadata | undefined> {
  const value = (await readChecked(file)) as Partial<TopicMetadata> | undefined;
  if (value === undefined) return undefined;
  if (
    value.format !== TOPIC_FORMAT ||
    typeof value.name !== 'string' ||
    !Number.isSafeInteger(value.partitions) ||
    `${value.name}.json` !== path.basename(file)
  ) {
    throw new BrokerCorruptError(
      `${file} is not a topic description this broker reads; restore it from a backup`,
    );
  }
  return value as TopicMetadata;
}

function checkPartitionCount(partitions: number, context: string): void {
  if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > PARTITIONS_MAX) {
    throw new ConfigurationError(
      `${context}: partitions must be an integer from 1 to ${PARTITIONS_MAX}, got ${String(partitions)}`,
    );
  }
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ConfigurationError(`openBroker: ${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function storageFailure(what: string, error: unknown): Error {
  if (isLogError(error)) {
    return new BrokerStorageError(`${what}: ${error.message}`, error, error.retriable);
  }
  return error as Error;
}
