/**
 * The `--data DIR` target: opens the embedded broker on the directory in this process. The
 * directory is locked while open, so nothing else reads or writes it meanwhile; when a server or
 * an application holds the lock the command stops with a message naming the pid and pointing at
 * `--broker`.
 *
 * Every read goes through `@herald/broker`'s API: only the log and the broker read the files of a
 * data directory (docs/ARCHITECTURE.md), so their formats can change without the CLI noticing.
 * Checking that the directory exists before opening it is the one file-system call here.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  type Broker,
  DirectoryLockedError,
  GroupActiveError,
  openBroker,
  TopicExistsError,
  TopicInUseError,
  TopicNotFoundError,
} from '@herald/broker';
import {
  BATCH_ATTRIBUTE,
  decodeRecordBatchHeader,
  decodeRecordBatchRecords,
  LOG_OVERHEAD_BYTES,
} from '@herald/log';
import { CliError, EXIT } from '../errors.ts';
import type {
  ConsumedRecord,
  FetchOptions,
  FetchResult,
  GroupKind,
  GroupListing,
  GroupPosition,
  OutgoingMessage,
  Target,
  TopicInfo,
} from './target.ts';

/** Bytes one fetch reads from the log (whole batches; at least one). */
const FETCH_BYTES_MAX = 1024 * 1024;

/** Codec ids of snappy and lz4, which `@herald/log` decodes only once a codec is registered. */
const PURE_JS_CODECS = new Set([2, 3]);
let codecsRegistered = false;

/**
 * Kafka producers may have stored snappy or lz4 batches through herald serve; their codecs come
 * with the Kafka server package, loaded only when such a batch is met (it costs startup time).
 */
async function registerCodecsFor(batches: Uint8Array): Promise<void> {
  if (codecsRegistered) return;
  let position = 0;
  while (position < batches.length) {
    const header = decodeRecordBatchHeader(batches, position);
    if (PURE_JS_CODECS.has(header.compression)) {
      (await import('@herald/kafka-server')).registerPureJsCodecs();
      codecsRegistered = true;
      return;
    }
    position += header.batchLength + LOG_OVERHEAD_BYTES;
  }
}

/** Opens `directory`; `create` allows making a new one (produce, topics create). */
export async function openDataDirectory(directory: string, create: boolean): Promise<Target> {
  const absolute = path.resolve(directory);
  if (!create && !(await exists(absolute))) {
    throw new CliError(
      `no data directory at ${absolute}; pass --data DIR, set HERALD_DATA_DIR, or --broker HOST:PORT`,
      EXIT.notFound,
    );
  }
  let broker: Broker;
  try {
    broker = await openBroker({ dir: absolute });
  } catch (error) {
    if (error instanceof DirectoryLockedError) {
      const { pid } = error;
      throw new CliError(
        `data directory ${absolute} is locked by ${pid === undefined ? 'another process' : `pid ${pid}`} ` +
          '(a herald serve or an application has it open); talk to that server with --broker HOST:PORT ' +
          '(or HERALD_BROKER), or stop it first',
        EXIT.conflict,
        { cause: error },
      );
    }
    throw error;
  }
  return new DataDirectoryTarget(broker, true);
}

/**
 * A target on a broker this process already has open (an application's embedded transport), for
 * the console inside a running application: its subscribers are the groups' live members.
 * `close()` leaves the broker open; its owner closes it.
 */
export function targetOfBroker(broker: Broker): Target {
  return new DataDirectoryTarget(broker, false);
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** Maps the broker's typed errors to exit codes; anything else stays a runtime failure. */
function translate(error: unknown, directory: string): never {
  if (error instanceof TopicNotFoundError) {
    throw new CliError(`topic "${error.topic}" does not exist in ${directory}`, EXIT.notFound, {
      cause: error,
    });
  }
  if (
    error instanceof TopicExistsError ||
    error instanceof TopicInUseError ||
    error instanceof GroupActiveError
  ) {
    throw new CliError(error.message, EXIT.conflict, { cause: error });
  }
  throw error;
}

class DataDirectoryTarget implements Target {
  readonly description: string;
  readonly #broker: Broker;
  /** Whether close() closes the broker (false when the application that opened it owns it). */
  readonly #owned: boolean;
  #closing: Promise<void> | undefined;

  constructor(broker: Broker, owned: boolean) {
    this.#broker = broker;
    this.#owned = owned;
    this.description = `data directory ${broker.directory}`;
  }

  async #call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      return translate(error, this.#broker.directory);
    }
  }

  async listTopics(): Promise<string[]> {
    return this.#broker.listTopics();
  }

  describeTopic(topic: string): Promise<TopicInfo> {
    return this.#call(async () => {
      const description = await this.#broker.describeTopic(topic);
      const storage = await this.#broker.describeStorage(topic);
      const partitions = description.partitions.map((partition) => ({
        ...partition,
        sizeBytes: storage[partition.partition]?.sizeBytes,
      }));
      return {
        name: topic,
        partitions,
        createdAtMs: description.createdAtMs,
        retention: {
          ms: undefined,
          bytes: undefined,
          note: 'none stored: a data directory keeps every message unless the process that opens it sets retentionMs or retentionBytes',
        },
      };
    });
  }

  async createTopic(topic: string, partitions: number | undefined): Promise<void> {
    await this.#call(() => this.#broker.createTopic(topic, partitions === undefined ? {} : { partitions }));
  }

  async deleteTopic(topic: string): Promise<void> {
    await this.#call(() => this.#broker.deleteTopic(topic));
  }

  async publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    await this.#call(() =>
      this.#broker.publish(
        topic,
        messages.map((message) => ({ key: message.key, headers: message.headers, body: message.value })),
      ),
    );
  }

  fetch(
    topic: string,
    partition: number,
    offset: bigint,
    waitMs: number,
    options: FetchOptions = {},
  ): Promise<FetchResult> {
    return this.#call(async () => {
      let offsets = await this.#broker.partitionOffsets(topic, partition);
      if (offset >= offsets.highWatermark && waitMs > 0) {
        // Only this process can write while the lock is held, so this waits for its own appends.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, waitMs);
          const unsubscribe = this.#broker.onPartitionAppend(topic, partition, done);
          function done() {
            clearTimeout(timer);
            unsubscribe();
            resolve();
          }
        });
        offsets = await this.#broker.partitionOffsets(topic, partition);
      }
      const from = offset < offsets.logStartOffset ? offsets.logStartOffset : offset;
      if (from >= offsets.highWatermark) {
        return { records: [], nextOffset: from, ...offsets };
      }
      const read = await this.#broker.readBatches(topic, partition, from, FETCH_BYTES_MAX);
      await registerCodecsFor(read.batches);
      const { records, skippedRecords } = decodeBatches(
        topic,
        partition,
        read.batches,
        from,
        options.batchHolds,
      );
      return {
        records,
        ...(skippedRecords === 0 ? {} : { skippedRecords }),
        nextOffset: read.nextOffset,
        highWatermark: read.highWatermark,
        logStartOffset: read.logStartOffset,
      };
    });
  }

  offsetForTimestamp(topic: string, partition: number, timestampMs: number): Promise<bigint | undefined> {
    return this.#call(() => this.#broker.offsetForTimestamp(topic, partition, timestampMs));
  }

  async listGroups(): Promise<GroupListing[]> {
    // The broker's acked groups are the bus's (embedded) subscribers, its committed ones Kafka's;
    // Kafka groups have no members here: the lock is ours, so no client of herald serve is connected.
    const listings: GroupListing[] = (await this.#broker.listGroups()).map((listing) => ({
      group: listing.group,
      kind: listing.kind === 'acked' ? 'embedded' : 'kafka',
      topics: listing.topics,
      members: listing.members,
    }));
    return listings.sort((a, b) => a.group.localeCompare(b.group) || a.kind.localeCompare(b.kind));
  }

  describeGroup(group: string, topic: string | undefined): Promise<GroupPosition[]> {
    return this.#call(async () => {
      const topics = topic === undefined ? this.#broker.listTopics() : [topic];
      if (topic !== undefined) await this.#broker.describeTopic(topic); // not found → exit 3
      const acked = new Set(await this.#broker.ackedTopics(group));
      const positions: GroupPosition[] = [];
      for (const name of topics) {
        const committed = await this.#broker.committedOffsets(name, group);
        if (committed.size > 0) {
          // members 0: the lock is ours, so no Kafka client of herald serve is connected.
          positions.push({ group, topic: name, kind: 'kafka', members: 0, committed, ackedAhead: new Map() });
        }
        if (acked.has(name)) {
          const description = await this.#broker.describeGroup(name, group);
          positions.push({
            group,
            topic: name,
            kind: 'embedded',
            members: description.members,
            committed: new Map(description.partitions.map((entry) => [entry.partition, entry.committed])),
            ackedAhead: new Map(
              description.partitions.map((entry) => [entry.partition, entry.ackedAhead.length]),
            ),
          });
        }
      }
      return positions;
    });
  }

  async moveGroup(
    group: string,
    topic: string,
    kind: GroupKind,
    offsets: ReadonlyMap<number, bigint>,
  ): Promise<void> {
    await this.#call(async () => {
      if (kind === 'kafka') await this.#broker.commitOffsets(topic, group, offsets);
      else
        await this.#broker.resetGroup(topic, group, { to: 'offsets', offsets: Object.fromEntries(offsets) });
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#owned ? this.#broker.close() : Promise.resolve();
    return this.#closing;
  }
}

/**
 * Decodes the records at or after `from` of stored batches, skipping control batches
 * (transaction markers carry no data) and, given `holds`, each uncompressed batch whose bytes
 * hold none of them (counted in `skippedRecords`, not decoded).
 */
function decodeBatches(
  topic: string,
  partition: number,
  batches: Uint8Array,
  from: bigint,
  holds: readonly Uint8Array[] | undefined,
): { records: ConsumedRecord[]; skippedRecords: number } {
  const records: ConsumedRecord[] = [];
  let skippedRecords = 0;
  let position = 0;
  const buffer = Buffer.from(batches.buffer, batches.byteOffset, batches.byteLength);
  while (position < batches.length) {
    const header = decodeRecordBatchHeader(batches, position);
    const end = position + header.batchLength + LOG_OVERHEAD_BYTES;
    if (
      holds !== undefined &&
      header.compression === 0 &&
      (header.attributes & BATCH_ATTRIBUTE.control) === 0 &&
      !holds.some((bytes) => holdsBytes(buffer, bytes, position, end))
    ) {
      const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
      const first = header.baseOffset > from ? header.baseOffset : from;
      if (lastOffset >= first) skippedRecords += Number(lastOffset - first + 1n);
      position = end;
      continue;
    }
    if ((header.attributes & BATCH_ATTRIBUTE.control) === 0) {
      for (const record of decodeRecordBatchRecords(batches, position)) {
        if (record.offset < from) continue;
        records.push({
          topic,
          partition,
          offset: record.offset,
          timestampMs: record.timestampMs,
          timestampType: (header.attributes & BATCH_ATTRIBUTE.logAppendTime) === 0 ? 'create' : 'logappend',
          key: record.key,
          value: record.value,
          headers: record.headers,
        });
      }
    }
    position = end;
  }
  return { records, skippedRecords };
}

/** Whether `buffer` holds `bytes` between `start` and `end`. */
function holdsBytes(buffer: Buffer, bytes: Uint8Array, start: number, end: number): boolean {
  return buffer.subarray(start, end).includes(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
