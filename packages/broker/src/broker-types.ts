/**
 * The broker's public option and description types: what `openBroker` takes and what the
 * `Broker` front's queries return.
 */
import type { FileSystem, FsyncPolicy } from '@herald/log';
import type { TopicConfig } from './topic-config.ts';

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
   * Testing hook: the file system of the whole data directory — the log's partitions, topic
   * metadata and the group-position journal (default `nodeFileSystem` of `@herald/log`). Crash
   * tests pass one that loses unsynced bytes on a kill, the storage-fault simulation an in-memory
   * one; applications leave it unset.
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

/** Where {@link Broker.resetGroup} moves a group. */
export type ResetTarget =
  | { readonly to: 'earliest' }
  | { readonly to: 'latest' }
  /** The first message at or after the timestamp in each partition (latest where none is). */
  | { readonly to: 'timestamp'; readonly timestampMs: number }
  /** Explicit offsets; partitions not listed keep their position. */
  | { readonly to: 'offsets'; readonly offsets: Readonly<Record<number, bigint>> };
