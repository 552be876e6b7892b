/**
 * A target is where commands read and write: a data directory opened directly (`--data`) or a
 * Kafka-protocol broker (`--broker`, `herald serve` or any Kafka). Commands are written once
 * against this interface; each implementation maps its errors to {@link CliError}s with the
 * documented exit codes.
 */

/** One record as read, with the Kafka coordinates. */
export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestampMs: number;
  /** Kafka's timestamp type: the producer's (`create`) or the broker's (`logappend`). */
  readonly timestampType?: 'create' | 'logappend';
  /** Node id of the broker the record was fetched from (none on a data directory). */
  readonly brokerId?: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  /** Header names and values in order (values are bytes; Herald's are UTF-8 text). */
  readonly headers: readonly (readonly [string, Uint8Array | null])[];
}

/** One message to publish. The target picks the partition from the key (Kafka's murmur2). */
export interface OutgoingMessage {
  readonly key?: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly value: Uint8Array;
}

/** A partition of a described topic. */
export interface PartitionInfo {
  readonly partition: number;
  readonly logStartOffset: bigint;
  readonly highWatermark: bigint;
  /** Bytes on disk, when the target can tell. */
  readonly sizeBytes: number | undefined;
}

/** What `topics describe` shows. */
export interface TopicInfo {
  readonly name: string;
  readonly partitions: readonly PartitionInfo[];
  /** When the topic was created (data directories only). */
  readonly createdAtMs: number | undefined;
  /** Retention as the target reports it: `retention.ms` and `retention.bytes`, or a note. */
  readonly retention: {
    readonly ms: number | undefined;
    readonly bytes: number | undefined;
    readonly note: string;
  };
}

/** A page of records of one partition. */
export interface FetchResult {
  /** Records at or after the requested offset, in offset order (may be empty). */
  readonly records: readonly ConsumedRecord[];
  /** Where the next fetch continues. */
  readonly nextOffset: bigint;
  readonly highWatermark: bigint;
  readonly logStartOffset: bigint;
  /**
   * Records left out because of {@link FetchOptions.batchHolds} (offsets their batches cover at
   * or after the requested one); absent when none were.
   */
  readonly skippedRecords?: number | undefined;
}

/** Options of {@link Target.fetch}. */
export interface FetchOptions {
  /**
   * A hint for scans that look for bytes (the console's search and trace): the target may leave
   * out, undecoded, each whole uncompressed batch whose bytes hold none of these, and count its
   * records in {@link FetchResult.skippedRecords}. Decoding is most of a scan's cost, and a record
   * holding the bytes in its key, value or headers has them in its batch. A target that cannot
   * look at batches (Kafka) returns every record.
   */
  readonly batchHolds?: readonly Uint8Array[] | undefined;
}

/**
 * The kinds of group positions: `kafka` groups keep committed offsets (Kafka clients through
 * `herald serve`, and `herald consume -g`); `embedded` groups are the bus's subscribers on the
 * embedded transport, whose acked positions live in the data directory's positions journal.
 */
export type GroupKind = 'kafka' | 'embedded';

/** A group's position on one topic. */
export interface GroupPosition {
  readonly group: string;
  readonly topic: string;
  readonly kind: GroupKind;
  /** Live members, when the target can tell. */
  readonly members: number | undefined;
  /** The next offset to read per partition (undefined: nothing committed there). */
  readonly committed: ReadonlyMap<number, bigint>;
  /** Per partition, offsets above `committed` already acked (embedded groups). */
  readonly ackedAhead: ReadonlyMap<number, number>;
}

/** A group as listed. */
export interface GroupListing {
  readonly group: string;
  readonly kind: GroupKind;
  /** The topics it has positions on (empty when the target cannot tell). */
  readonly topics: readonly string[];
  readonly members: number | undefined;
}

/** Where commands read and write. */
export interface Target {
  /** "data directory /x" or "broker 127.0.0.1:9092", for messages. */
  readonly description: string;
  listTopics(): Promise<string[]>;
  /** Throws a not-found CliError (exit 3) for an unknown topic. */
  describeTopic(topic: string): Promise<TopicInfo>;
  /** Throws a conflict CliError (exit 4) when the topic exists. */
  createTopic(topic: string, partitions: number | undefined): Promise<void>;
  deleteTopic(topic: string): Promise<void>;
  /** Publishes in order; resolves once the target acknowledged every message (fsynced). */
  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  /** Reads from `offset`, waiting up to `waitMs` for records when there are none yet. */
  fetch(
    topic: string,
    partition: number,
    offset: bigint,
    waitMs: number,
    options?: FetchOptions,
  ): Promise<FetchResult>;
  /** The first offset at or after `timestampMs`, or undefined when every record is older. */
  offsetForTimestamp(topic: string, partition: number, timestampMs: number): Promise<bigint | undefined>;
  listGroups(): Promise<GroupListing[]>;
  /** The group's positions, on `topic` or on every topic it has positions on. */
  describeGroup(group: string, topic: string | undefined): Promise<GroupPosition[]>;
  /**
   * Moves a group's position on a topic to `offsets` (partitions not listed keep theirs).
   * Refused with a conflict CliError (exit 4) while the group has live members.
   */
  moveGroup(
    group: string,
    topic: string,
    kind: GroupKind,
    offsets: ReadonlyMap<number, bigint>,
  ): Promise<void>;
  /** Closes connections or the broker (releasing the directory lock). Idempotent. */
  close(): Promise<void>;
}
