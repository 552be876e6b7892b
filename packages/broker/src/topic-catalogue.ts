/**
 * The topic catalogue: which topics exist, with their partition count, creation time and settings
 * (`topics/<name>.json`, replaced atomically), and their open log partitions. The metadata file
 * is the commit point of creating and deleting a topic: at open, partitions and legacy group
 * files without one are leftovers of an interrupted deletion (or creation) and are removed.
 */
import path from 'node:path';
import {
  ConfigurationError,
  SERVICES_TOPIC,
  SERVICES_TOPIC_RETENTION_MS,
  SERVICES_TOPIC_SEGMENT_MS,
} from '@herald/bus';
import { type FileSystem, isLogError, type LogStore, type Partition } from '@herald/log';
import { errorCode, readChecked, removeFile, syncDirectory, writeChecked } from './atomic-file.ts';
import type { ConsumerGroup } from './consumer-group.ts';
import {
  BrokerArgumentError,
  BrokerCorruptError,
  BrokerStorageError,
  TopicExistsError,
  TopicNotFoundError,
} from './errors.ts';
import type { PartitionLog } from './partition-log.ts';
import { loadedTopicConfig, storedTopicConfig, type TopicConfig } from './topic-config.ts';

/**
 * Settings of reserved topics when they are created on first use: the buses' announcements
 * (`herald.services`) are read from their last minutes, so a day of them is kept, not forever.
 */
const AUTO_CREATED_CONFIG: ReadonlyMap<string, TopicConfig> = new Map([
  [SERVICES_TOPIC, { retentionMs: SERVICES_TOPIC_RETENTION_MS, segmentAgeMsMax: SERVICES_TOPIC_SEGMENT_MS }],
]);
/** Most partitions a topic may have. */
export const PARTITIONS_MAX = 1024;
const TOPIC_FORMAT = 1;

/** A topic's metadata file. */
export interface TopicMetadata {
  readonly format: number;
  readonly name: string;
  readonly partitions: number;
  readonly createdAtMs: number;
  /** Settings overriding the broker's (absent in files written before topics had settings). */
  readonly config?: Record<string, number | null>;
}

/** An open topic. */
export interface TopicState {
  readonly metadata: TopicMetadata;
  readonly config: TopicConfig;
  readonly logs: PartitionLog[];
  /** The embedded consumer groups open on it (the broker front opens them). */
  readonly groups: Map<string, Promise<ConsumerGroup>>;
  readonly unsubscribes: (() => void)[];
  /** The partition keyless messages of the next publish go to (round-robin). */
  nextKeylessPartition: number;
  deleted: boolean;
}

/** How the catalogue creates and opens topics. */
export interface TopicCatalogueOptions {
  /** Partitions of automatically created topics. */
  readonly partitions: number;
  /** Create unknown topics on first use. */
  readonly autoCreateTopics: boolean;
  /** fsync metadata writes. */
  readonly durable: boolean;
  /** The file system of the whole data directory (the log store's). */
  readonly fileSystem: FileSystem;
  /** Largest message the broker accepts (records of a topic with a larger batch limit may be larger). */
  readonly messageBytesMax: number;
}

/** Throws {@link ConfigurationError} unless `partitions` is from 1 to {@link PARTITIONS_MAX}. */
export function checkPartitionCount(partitions: number, context: string): void {
  if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > PARTITIONS_MAX) {
    throw new ConfigurationError(
      `${context}: partitions must be an integer from 1 to ${PARTITIONS_MAX}, got ${String(partitions)}`,
    );
  }
}

/** A log error as the broker reports it (`BrokerStorageError` with the log's error as cause). */
export function storageFailure(what: string, error: unknown): Error {
  if (isLogError(error)) {
    return new BrokerStorageError(`${what}: ${error.message}`, error, error.retriable);
  }
  return error as Error;
}

/** The topics of one data directory. */
export class TopicCatalogue {
  readonly #directory: string;
  readonly #store: LogStore;
  readonly #options: TopicCatalogueOptions;
  readonly #topics = new Map<string, Promise<TopicState>>();
  /** The topics of {@link #topics} whose open finished, for the publish path's lookup without an await. */
  readonly #opened = new Map<string, TopicState>();
  /** Told of each topic once it is open (pattern subscriptions; one per subscription). */
  readonly #watchers = new Set<(topic: string) => void>();

  constructor(directory: string, store: LogStore, options: TopicCatalogueOptions) {
    this.#directory = directory;
    this.#store = store;
    this.#options = options;
  }

  get #topicsDirectory(): string {
    return path.join(this.#directory, 'topics');
  }

  /**
   * Reads every topic's metadata and removes leftovers of interrupted deletions: partitions and
   * legacy `groups/<topic>/` directories of topics without metadata. Returns the metadata.
   */
  async load(): Promise<Map<string, TopicMetadata>> {
    const fileSystem = this.#options.fileSystem;
    await fileSystem.mkdir(this.#topicsDirectory);
    const known = new Map<string, TopicMetadata>();
    for (const file of (await fileSystem.readdir(this.#topicsDirectory)).sort()) {
      if (!file.endsWith('.json')) continue;
      const metadata = await readTopicMetadata(fileSystem, path.join(this.#topicsDirectory, file));
      if (metadata !== undefined) known.set(metadata.name, metadata);
    }
    for (const name of await this.#store.listPartitions()) {
      const metadata = known.get(name.topic);
      if (metadata !== undefined && name.partition < metadata.partitions) continue;
      // Only directories the log wrote: a stray `notes-1/` of the user's is left alone.
      const files = await fileSystem.readdir(path.join(this.#directory, `${name.topic}-${name.partition}`));
      if (files.some((file) => file === 'partition.checkpoint' || file.endsWith('.log'))) {
        await this.#store.deletePartition(name);
      }
    }
    let groupDirectories: string[] = [];
    try {
      groupDirectories = await fileSystem.readdir(path.join(this.#directory, 'groups'));
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
    for (const topic of groupDirectories) {
      if (!known.has(topic)) await this.removeLegacyGroupDirectory(topic);
    }
    return known;
  }

  /** Opens the topics of `known` (from {@link load}); resolves once all are open. */
  async openAll(known: ReadonlyMap<string, TopicMetadata>): Promise<void> {
    for (const metadata of known.values()) this.#remember(metadata.name, this.#open(metadata));
    await Promise.all(this.#topics.values());
  }

  /** Calls `listener` with each topic opened from now on (created, or auto-created by a first use). */
  watch(listener: (topic: string) => void): () => void {
    this.#watchers.add(listener);
    return () => this.#watchers.delete(listener);
  }

  /** Names of every topic, sorted. */
  names(): string[] {
    return [...this.#topics.keys()].sort();
  }

  /** Every open topic (those that failed to open are left out). */
  async states(): Promise<TopicState[]> {
    return (await Promise.allSettled(this.#topics.values()))
      .filter((result) => result.status === 'fulfilled')
      .map((result) => (result as PromiseFulfilledResult<TopicState>).value);
  }

  /** The topic, or {@link TopicNotFoundError} naming `context`. */
  async existing(name: string, context: string): Promise<TopicState> {
    const state = await this.#topics.get(name);
    if (state === undefined || state.deleted) throw new TopicNotFoundError(name, context);
    return state;
  }

  /** The topic when it is open now (not opening, failed or deleted), without waiting. */
  opened(name: string): TopicState | undefined {
    return this.#opened.get(name);
  }

  /** The topic, created with the default partition count when unknown and auto-create is on. */
  async forUse(name: string, context: string): Promise<TopicState> {
    const existing = this.#topics.get(name);
    if (existing !== undefined) return existing;
    if (!this.#options.autoCreateTopics) throw new TopicNotFoundError(name, context);
    return this.#ensure(name, this.#options.partitions, false, AUTO_CREATED_CONFIG.get(name));
  }

  /** Creates a topic; {@link TopicExistsError} when one of that name exists. */
  async create(name: string, partitions: number, config: TopicConfig): Promise<void> {
    const existing = this.#topics.get(name);
    if (existing !== undefined) {
      const state = await existing.catch(() => undefined);
      if (state !== undefined && !state.deleted) throw new TopicExistsError(name, state.metadata.partitions);
    }
    await this.#ensure(name, partitions, true, config);
  }

  /** Forgets an open topic at once, so no new use finds it (the first step of a deletion). */
  forget(name: string, state: TopicState): void {
    state.deleted = true;
    this.#topics.delete(name);
    if (this.#opened.get(name) === state) this.#opened.delete(name);
  }

  /** Removes the topic's metadata file durably: the commit point of a deletion. */
  async removeMetadata(name: string): Promise<void> {
    await removeFile(this.#options.fileSystem, topicMetadataFile(this.#topicsDirectory, name));
    if (this.#options.durable) await syncDirectory(this.#options.fileSystem, this.#topicsDirectory);
  }

  /** Deletes the partitions of a topic whose metadata is gone. */
  async deletePartitions(state: TopicState): Promise<void> {
    for (let partition = 0; partition < state.metadata.partitions; partition++) {
      await this.#store.deletePartition({ topic: state.metadata.name, partition });
    }
  }

  /** Removes `groups/<topic>/` of older brokers (a deleted topic's files of the old layout). */
  async removeLegacyGroupDirectory(topic: string): Promise<void> {
    await this.#options.fileSystem.removeTree(path.join(this.#directory, 'groups', topic));
  }

  /** One log partition of an existing topic; {@link BrokerArgumentError} outside its range. */
  async rawPartition(topic: string, partition: number, context: string): Promise<Partition> {
    const state = await this.existing(topic, context);
    if (!Number.isInteger(partition) || partition < 0 || partition >= state.metadata.partitions) {
      throw new BrokerArgumentError(
        `${context}: topic "${topic}" has partitions 0 to ${state.metadata.partitions - 1}, not ${partition}`,
      );
    }
    const log = this.#store.getPartition({ topic, partition });
    if (log === undefined) throw new TopicNotFoundError(topic, context);
    return log;
  }

  /** The open log partition, or undefined. */
  openPartition(topic: string, partition: number): Partition | undefined {
    return this.#store.getPartition({ topic, partition });
  }

  #ensure(
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
      await writeChecked(
        this.#options.fileSystem,
        topicMetadataFile(this.#topicsDirectory, name),
        metadata,
        this.#options.durable,
      );
      return this.#open(metadata);
    })();
    this.#remember(name, creating);
    return creating;
  }

  #remember(name: string, opening: Promise<TopicState>): void {
    this.#topics.set(name, opening);
    opening.then(
      (state) => {
        if (this.#topics.get(name) !== opening || state.deleted) return;
        this.#opened.set(name, state);
        for (const watcher of [...this.#watchers]) watcher(name);
      },
      () => {
        if (this.#topics.get(name) === opening) this.#topics.delete(name);
      },
    );
  }

  async #open(metadata: TopicMetadata): Promise<TopicState> {
    const config = loadedTopicConfig(
      metadata.config,
      topicMetadataFile(this.#topicsDirectory, metadata.name),
    );
    const overrides = {
      ...config,
      // A batch may be as large as the topic allows, so may a record in it.
      ...(config.batchBytesMax === undefined
        ? {}
        : { recordBytesMax: Math.max(config.batchBytesMax, this.#options.messageBytesMax) }),
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
    appendTo: (records, waiter) => partition.appendTo(records, waiter),
    read: (offset, bytesMax) => partition.read(offset, bytesMax),
    offsetForTimestamp: async (timestampMs) => (await partition.offsetForTimestamp(timestampMs))?.offset,
    onAppend: (listener) => partition.onAppend(() => listener()),
    close: () => partition.close(),
  };
}

function topicMetadataFile(topicsDirectory: string, name: string): string {
  return path.join(topicsDirectory, `${name}.json`);
}

async function readTopicMetadata(fileSystem: FileSystem, file: string): Promise<TopicMetadata | undefined> {
  const value = (await readChecked(fileSystem, file)) as Partial<TopicMetadata> | undefined;
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
