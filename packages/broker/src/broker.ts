/**
 * The broker front: the public `Broker` of one data directory (locked while open). Each job lives
 * in its own module and this class wires them: the topic catalogue (topic-catalogue.ts), the
 * publish path (publish-path.ts), embedded consumer groups (consumer-group.ts) and the one store
 * of every group position, acked and committed (group-position-store.ts). Everything runs in this
 * process.
 */
import {
  assertTopicName,
  ClosedError,
  ConfigurationError,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
  type TransportMessage,
} from '@herald/bus';
import { assertName, assertSubscribeOptions } from '@herald/bus/internal';
import {
  type FileSystem,
  type FsyncPolicy,
  type LogStore,
  nodeFileSystem,
  type ReadResult,
} from '@herald/log';
import type {
  BrokerOptions,
  GroupDescription,
  GroupListing,
  PartitionStorage,
  ResetTarget,
  TopicDescription,
} from './broker-types.ts';
import { checkCommitsSize, checkedCommits } from './commit-input.ts';
import { ACKS_UNSTORED_MAX, ConsumerGroup, type ConsumerGroupLimits } from './consumer-group.ts';
import { BrokerStorageError, TopicInUseError } from './errors.ts';
import { ackedGroupsOn, describeGroupOn, listGroupsOf } from './group-listing.ts';
import { GroupPositionStore } from './group-position-store.ts';
import type { CommittedOffset } from './position-journal.ts';
import { appendMessages, checkedSizes, checkHandedOut, type PublishHooks } from './publish-path.ts';
import { resetOffset } from './reset-target.ts';
import { checkPartitionCount, storageFailure, TopicCatalogue, type TopicState } from './topic-catalogue.ts';
import { checkTopicConfig, type TopicConfig } from './topic-config.ts';
import { UnstoredAcks } from './unstored-acks.ts';

/** An open broker. Create with {@link openBroker}. */
export class Broker {
  /** The data directory (absolute). */
  readonly directory: string;
  /** Largest message `publish` accepts. */
  readonly messageBytesMax: number;
  readonly #store: LogStore;
  /** The file system of the whole data directory: the log, topic metadata and group positions. */
  readonly #fileSystem: FileSystem;
  readonly #options: BrokerOptions & { partitions: number; fsync: FsyncPolicy };
  readonly #limits: ConsumerGroupLimits;
  /** Acks of every group waiting for their position write: bounded across groups (ACKS_UNSTORED_MAX). */
  readonly #unstoredAcks = new UnstoredAcks(ACKS_UNSTORED_MAX);
  readonly #durable: boolean;
  readonly #topics: TopicCatalogue;
  /** Every group's position, acked and committed (set by {@link load}). */
  #positions: GroupPositionStore | undefined;
  readonly #inFlight = new Set<Promise<unknown>>();
  /**
   * Publishes whose append runs, counted rather than kept in {@link #inFlight}: a publish then
   * settles through one `then` with handlers made once (an `async` frame with a `finally` and two
   * `Set` updates per publish showed in the profile). {@link #close} waits for it to reach 0.
   */
  #publishesRunning = 0;
  /** Resolves {@link #close}'s wait once {@link #publishesRunning} is 0. */
  #publishesDrained: (() => void) | undefined;
  readonly #publishSettled = (): void => {
    this.#publishesRunning -= 1;
    if (this.#publishesRunning > 0 || this.#publishesDrained === undefined) return;
    const drained = this.#publishesDrained;
    this.#publishesDrained = undefined;
    drained();
  };
  /** Told by the publish path as each publish ends, before its promise settles. */
  readonly #publishHooks: PublishHooks = {
    published: this.#publishSettled,
    failed: this.#publishSettled,
  };
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
    this.#fileSystem = options.fileSystem ?? nodeFileSystem;
    this.messageBytesMax = options.messageBytesMax ?? 1024 * 1024;
    this.#limits = {
      windowRecordsMax: options.groupWindowRecordsMax ?? 1024,
      windowBytesMax: options.groupWindowBytesMax ?? 8 * 1024 * 1024,
      fetchBytesMax: options.fetchBytesMax ?? 1024 * 1024,
      visibilityTimeoutMs: options.visibilityTimeoutMs ?? 5 * 60_000,
    };
    this.#durable = options.fsync !== 'never';
    this.#topics = new TopicCatalogue(directory, store, {
      partitions: options.partitions,
      autoCreateTopics: options.autoCreateTopics !== false,
      durable: this.#durable,
      messageBytesMax: this.messageBytesMax,
      fileSystem: this.#fileSystem,
    });
  }

  /**
   * @internal Reads topic metadata, removes leftovers of interrupted deletions, opens the group
   * position store (migrating group files of older brokers into it), opens partitions.
   */
  async load(): Promise<void> {
    const known = await this.#topics.load();
    this.#positions = await GroupPositionStore.open(
      this.#fileSystem,
      this.directory,
      new Set(known.keys()),
      this.#durable,
    );
    await this.#topics.openAll(known);
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
    await this.#topics.create(name, partitions, config);
    return this.describeTopic(name);
  }

  /**
   * Deletes a topic with its messages and group positions. Throws {@link TopicInUseError} while a
   * subscription reads it, {@link TopicNotFoundError} if it does not exist.
   */
  async deleteTopic(name: string): Promise<void> {
    this.#checkOpen();
    assertTopicName(name, 'deleteTopic');
    const state = await this.#topics.existing(name, 'deleteTopic');
    const live: string[] = [];
    for (const [group, opening] of state.groups) {
      const consumerGroup = await opening.catch(() => undefined);
      if (consumerGroup !== undefined && consumerGroup.memberCount > 0) live.push(group);
    }
    if (live.length > 0) throw new TopicInUseError(name, live);
    this.#topics.forget(name, state);
    for (const unsubscribe of state.unsubscribes) unsubscribe();
    for (const opening of state.groups.values()) await (await opening.catch(() => undefined))?.close();
    // Removing the metadata is the commit point; what follows is cleanup that load() redoes.
    try {
      await this.#topics.removeMetadata(name);
      // Durable before a topic of the same name can be created again (load() drops them too).
      await this.#positions!.forgetTopic(name);
      await this.#topics.deletePartitions(state);
      await this.#topics.removeLegacyGroupDirectory(name);
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
    return this.#topics.names();
  }

  /** Calls `listener` with the name of each topic opened from now on; returns the function that stops it. */
  watchTopics(listener: (topic: string) => void): () => void {
    return this.#topics.watch(listener);
  }

  /** Partitions and their offsets; throws {@link TopicNotFoundError} if the topic does not exist. */
  async describeTopic(name: string): Promise<TopicDescription> {
    this.#checkOpen();
    const state = await this.#topics.existing(name, 'describeTopic');
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
    const state = await this.#topics.existing(topic, 'describeGroup');
    return describeGroupOn(state, this.#positions!, group);
  }

  /**
   * Moves a group's position on a topic: replay from the earliest retained message, skip to the
   * latest, start at a timestamp, or at explicit offsets. Refused with `GroupActiveError` while the
   * group has live subscriptions. Unsettled deliveries are forgotten.
   */
  async resetGroup(topic: string, group: string, target: ResetTarget): Promise<GroupDescription> {
    this.#checkOpen();
    assertName(group, 'group', 'resetGroup');
    const state = await this.#topics.existing(topic, 'resetGroup');
    const consumerGroup = await this.#group(state, group);
    await consumerGroup.reset((partition) =>
      resetOffset(
        topic,
        partition,
        state.logs[partition]!,
        target,
        () => consumerGroup.position().get(partition)!.committed,
      ),
    );
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
    const log = await this.#topics.rawPartition(topic, partition, 'appendBatch');
    const highWatermarkBefore = log.highWatermark;
    const operation = log.appendBatch(batch);
    this.#inFlight.add(operation);
    let offsets: { baseOffset: bigint; lastOffset: bigint };
    try {
      offsets = await operation;
    } catch (error) {
      throw storageFailure(`appendBatch to ${topic}/${partition}`, error);
    } finally {
      this.#inFlight.delete(operation);
    }
    checkHandedOut(offsets.baseOffset, offsets.lastOffset, undefined, highWatermarkBefore);
    return offsets;
  }

  /**
   * Whole stored batches of `partition` from the one holding `offset`, up to `bytesMax` (always at
   * least one batch), as the log returns them (see `Partition.read`). Throws the log's
   * `LOG_OFFSET_OUT_OF_RANGE` (wrapped in {@link BrokerStorageError}) outside the stored range.
   */
  async readBatches(topic: string, partition: number, offset: bigint, bytesMax: number): Promise<ReadResult> {
    this.#checkOpen();
    const log = await this.#topics.rawPartition(topic, partition, 'readBatches');
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
    const log = await this.#topics.rawPartition(topic, partition, 'partitionOffsets');
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
    const log = await this.#topics.rawPartition(topic, partition, 'offsetForTimestamp');
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
    const log = this.#topics.openPartition(topic, partition);
    if (log === undefined || this.#closing !== undefined) return () => {};
    return log.onAppend(() => listener());
  }

  /**
   * Stores Kafka-style committed offsets of `group` on `topic` (explicit commits of the next
   * offset to read, as a Kafka group coordinator keeps them), merged with earlier commits, in the
   * broker's group-position journal beside the acked positions of {@link subscribe} groups (a
   * separate kind there: the two never mix). An entry is an offset, or an offset with the
   * commit's metadata string (a bare offset stores no metadata: it reads back null). As Kafka,
   * any 64-bit offset is stored, negative ones too (clients commit -1 and -2 to mean "reset to
   * latest" and "to earliest"); metadata is at most {@link COMMIT_METADATA_BYTES_MAX} UTF-8 bytes,
   * and one group's commits on one topic at most about 32 MiB stored ({@link BrokerArgumentError}
   * beyond), which bounds the journal's records.
   * Durable (fsynced) unless the broker's fsync policy is `'never'`.
   */
  async commitOffsets(
    topic: string,
    group: string,
    offsets: ReadonlyMap<number, bigint | CommittedOffset>,
  ): Promise<void> {
    this.#checkOpen();
    assertName(group, 'group', 'commitOffsets');
    const state = await this.#topics.existing(topic, 'commitOffsets');
    const commits = checkedCommits(topic, state.metadata.partitions, offsets);
    checkCommitsSize(topic, group, new Map([...this.#positions!.committed(topic, group), ...commits]));
    await this.#storing(
      this.#positions!.commit(topic, group, commits),
      `commitOffsets: cannot store offsets of "${group}" on "${topic}"`,
    );
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
    await this.#topics.existing(topic, 'committedOffsets');
    return this.#positions!.committed(topic, group);
  }

  /**
   * Forgets offsets stored by {@link commitOffsets} for `group` on `topic`: the given partitions,
   * or all of them when `partitions` is undefined (Kafka's OffsetDelete and DeleteGroups). The
   * group stops being listed once no partition is left. Durable as {@link commitOffsets}.
   */
  async deleteCommittedOffsets(topic: string, group: string, partitions?: readonly number[]): Promise<void> {
    this.#checkOpen();
    assertName(group, 'group', 'deleteCommittedOffsets');
    await this.#topics.existing(topic, 'deleteCommittedOffsets');
    await this.#storing(
      this.#positions!.uncommit(topic, group, partitions),
      `deleteCommittedOffsets: cannot update offsets of "${group}" on "${topic}"`,
    );
  }

  /** Waits for a store round that close() must wait for too; wraps its failure as `what`. */
  async #storing(writing: Promise<void>, what: string): Promise<void> {
    this.#inFlight.add(writing);
    try {
      await writing;
    } catch (error) {
      if (!(error instanceof BrokerStorageError)) throw error; // a broken invariant, as itself
      throw new BrokerStorageError(what, error);
    } finally {
      this.#inFlight.delete(writing);
    }
  }

  /** Topics on which `group` has offsets stored by {@link commitOffsets}, sorted. */
  async committedTopics(group: string): Promise<string[]> {
    this.#checkOpen();
    assertName(group, 'group', 'committedTopics');
    return this.listTopics().filter((topic) => this.#positions!.committed(topic, group).size > 0);
  }

  /**
   * Groups with offsets stored by {@link commitOffsets} on any topic, sorted (read-only: what a
   * Kafka ListGroups reports for groups that only have committed offsets).
   */
  async committedGroups(): Promise<string[]> {
    this.#checkOpen();
    const groups = new Set<string>();
    for (const topic of this.listTopics()) {
      for (const group of this.#positions!.committedGroups(topic)) groups.add(group);
    }
    return [...groups].sort();
  }

  /**
   * Every group this broker stores a position for, with the topics it has one on: `'acked'`
   * groups are {@link subscribe} groups (their acked positions, stored or open in this broker),
   * `'committed'` groups have offsets stored by {@link commitOffsets}. A name used both ways is
   * listed once per kind. Sorted by group, then kind; topics sorted. Read-only.
   */
  async listGroups(): Promise<GroupListing[]> {
    this.#checkOpen();
    return listGroupsOf(this.#topics, this.#positions!);
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
      if ((await ackedGroupsOn(this.#topics, this.#positions!, topic, 'ackedTopics')).includes(group)) {
        topics.push(topic);
      }
    }
    return topics;
  }

  /**
   * What each partition of `topic` holds on disk, from the log: the bytes of its segment files
   * and how many segments it has. Throws {@link TopicNotFoundError} if the topic does not exist.
   */
  async describeStorage(topic: string): Promise<PartitionStorage[]> {
    this.#checkOpen();
    const state = await this.#topics.existing(topic, 'describeStorage');
    const storage: PartitionStorage[] = [];
    for (let partition = 0; partition < state.metadata.partitions; partition++) {
      const log = await this.#topics.rawPartition(topic, partition, 'describeStorage');
      let sizeBytes = 0;
      const segments = log.describeSegments();
      for (const segment of segments) sizeBytes += segment.sizeBytes;
      storage.push({ partition, sizeBytes, segmentCount: segments.length });
    }
    return storage;
  }

  /**
   * Appends `messages` to `topic` in order: keyed messages to Kafka's murmur2 partition, keyless
   * ones of one call together to the next partition in turn. One append per partition (split
   * only above 4 MiB). Resolves once every message is durable per the fsync policy.
   */
  publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    return this.publishObserved(topic, messages, undefined);
  }

  /**
   * @internal {@link publish}, telling `observer` how it ended before its promise settles (the
   * embedded transport's health: a `then` of its own was a promise and a microtask more per
   * publish). `observer` must not throw.
   */
  publishObserved(
    topic: string,
    messages: readonly TransportMessage[],
    observer: PublishHooks | undefined,
  ): Promise<void> {
    // Not `async`: an open topic's publish is checked and handed to its partition in this call,
    // and its promise is settled by the log's writer (publish-path.ts). Checks still reject, never throw.
    let state: TopicState | undefined;
    let sizes: readonly number[];
    try {
      this.#checkOpen();
      // An open topic is found without an await (a tick per publish); its name was checked already.
      state = this.#topics.opened(topic);
      if (state === undefined) assertTopicName(topic, 'publish');
      sizes = checkedSizes(topic, messages, this.messageBytesMax);
    } catch (error) {
      observer?.failed(error);
      return Promise.reject(error);
    }
    if (messages.length === 0) {
      observer?.published();
      return Promise.resolve();
    }
    if (state === undefined) return this.#publishOpening(topic, messages, sizes, observer);
    this.#publishesRunning += 1;
    return appendMessages(state, messages, sizes, this.#publishHooks, observer);
  }

  /** A publish to a topic not open yet: opens (or creates) it, then appends. */
  async #publishOpening(
    topic: string,
    messages: readonly TransportMessage[],
    sizes: readonly number[],
    observer: PublishHooks | undefined,
  ): Promise<void> {
    let state: TopicState;
    try {
      state = await this.#topics.forUse(topic, 'publish');
      this.#checkOpen();
    } catch (error) {
      observer?.failed(error);
      throw error;
    }
    this.#publishesRunning += 1;
    return appendMessages(state, messages, sizes, this.#publishHooks, observer);
  }

  /**
   * Joins `options.group` on `options.topic` and starts delivering to `handler`. Resolves once
   * registered: every message published afterwards reaches the group.
   */
  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    this.#checkOpen();
    assertSubscribeOptions(options);
    const state = await this.#topics.forUse(options.topic, 'subscribe');
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
    const states = await this.#topics.states();
    const groupCloses: Promise<void>[] = [];
    for (const state of states) {
      for (const unsubscribe of state.unsubscribes) unsubscribe();
      for (const opening of state.groups.values()) {
        groupCloses.push(opening.then((group) => group.close()).catch(() => {}));
      }
    }
    await Promise.all(groupCloses);
    await Promise.allSettled([...this.#inFlight]);
    if (this.#publishesRunning > 0) {
      await new Promise<void>((resolve) => {
        this.#publishesDrained = resolve;
      });
    }
    await this.#positions?.close().catch((error: unknown) => this.#options.onError?.(error));
    await this.#store.close();
  }

  /** Whether {@link close} was called. */
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
          this.#unstoredAcks,
        ))();
      state.groups.set(name, opening);
      opening.catch(() => state.groups.delete(name));
    }
    return opening;
  }
}
