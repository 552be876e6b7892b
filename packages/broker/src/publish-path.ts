/**
 * The publish path: where each message of a `publish` goes (Kafka's murmur2 partition for keyed
 * messages, the next partition in turn for the keyless ones of one call), how a partition's share
 * is split into appends (at most 4 MiB each, under the log's 8 MiB batch limit), and the check
 * that every append got the offsets the log promises.
 */
import { messageSizeBytes, PayloadTooLargeError, type TransportMessage } from '@herald/bus';
import { partitionForKey } from '@herald/bus/internal';
import type { AppendWaiter } from '@herald/log';
import { broken } from './invariant.ts';
import type { PartitionLog, RecordToAppend } from './partition-log.ts';
import { storageFailure } from './topic-catalogue.ts';

/** Bytes one append carries at most; larger publishes are split (the log's batch limit is 8 MiB). */
const APPEND_BYTES_MAX = 4 * 1024 * 1024;
/** Per-record overhead estimate used when splitting appends (Kafka record framing). */
const RECORD_OVERHEAD_BYTES = 64;

/** What the publish path needs of a topic. */
export interface PublishTarget {
  readonly metadata: { readonly name: string };
  readonly logs: readonly PartitionLog[];
  /** The partition keyless messages of the next publish go to; advanced by every publish. */
  nextKeylessPartition: number;
}

type Chunk = { records: RecordToAppend[]; bytes: number };

/**
 * Told how a publish ended, before its promise settles: the broker's count of running publishes,
 * and the embedded transport's health. Must not throw (it runs inside the log's settling loop).
 */
export interface PublishHooks {
  /** Every message of the publish is durable. */
  published(): void;
  /** The publish failed with `error` (what its promise rejects with). */
  failed(error: unknown): void;
}

/**
 * Appends `messages` to `target` in order, one append per partition (split only above 4 MiB);
 * `sizes` is what {@link checkedSizes} returned (read only for several messages). Resolves once every append is durable per the
 * log's fsync policy; rejects with the log's error wrapped in `BrokerStorageError`. `hooks` and
 * then `observer` are told first.
 */
export function appendMessages(
  target: PublishTarget,
  messages: readonly TransportMessage[],
  sizes: readonly number[],
  hooks?: PublishHooks,
  observer?: PublishHooks,
): Promise<void> {
  const partitions = target.logs.length;
  const keyless = target.nextKeylessPartition;
  target.nextKeylessPartition = (keyless + 1) % partitions;
  const timestampMs = Date.now();
  if (messages.length === 1) {
    // The common publish (the bus sends one event per call): one record, one append, none of the
    // per-partition grouping below (profiled: that grouping was a tenth of a publish's CPU). Its
    // promise is settled by the log's writer through the one request object, no `then` between.
    const message = messages[0]!;
    const key = keyBytes(message);
    const partition = key === null ? keyless : partitionForKey(key, partitions);
    const log = target.logs[partition]!;
    const request = new AppendRequest(target, partition, log.highWatermark, 1n, hooks, observer);
    log.appendTo([toRecord(message, key, timestampMs)], request);
    return request.promise;
  }
  const byPartition = new Map<number, Chunk[]>();
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]!;
    const key = keyBytes(message);
    const partition = key === null ? keyless : partitionForKey(key, partitions);
    addToChunks(
      byPartition,
      partition,
      toRecord(message, key, timestampMs),
      sizes[index]! + RECORD_OVERHEAD_BYTES,
    );
  }
  const appends: Promise<void>[] = [];
  for (const [partition, chunks] of byPartition) appends.push(appendChunks(target, partition, chunks));
  const all = Promise.all(appends);
  if (hooks === undefined && observer === undefined) return all.then(() => undefined);
  return all.then(
    () => {
      hooks?.published();
      observer?.published();
    },
    (error: unknown) => {
      hooks?.failed(error);
      observer?.failed(error);
      throw error;
    },
  );
}

/**
 * The size of each message (`messageSizeBytes`); throws `PayloadTooLargeError` for one above
 * `messageBytesMax`. A lone message (the bus publishes one per call) is measured exactly only when
 * its quick upper bound is above the limit, and its size is not returned (an empty array, shared):
 * {@link appendMessages} needs sizes only to split a publish of several messages.
 */
export function checkedSizes(
  topic: string,
  messages: readonly TransportMessage[],
  messageBytesMax: number,
): readonly number[] {
  if (messages.length === 1) {
    // A lone message is checked; its size is not kept (only a split of several reads sizes).
    checkedSize(topic, messages[0]!, messageBytesMax, messageSizeBytesAtMost(messages[0]!));
    return LONE_MESSAGE;
  }
  const sizes = new Array<number>(messages.length);
  for (let index = 0; index < messages.length; index++) {
    sizes[index] = checkedSize(topic, messages[index]!, messageBytesMax, Number.NaN);
  }
  return sizes;
}

/** What {@link checkedSizes} returns for a lone message: its size is not read. */
const LONE_MESSAGE: readonly number[] = Object.freeze([]);

/** The size of `message`, measured exactly unless `bound` (an upper bound, or NaN) is within the limit. */
function checkedSize(
  topic: string,
  message: TransportMessage,
  messageBytesMax: number,
  bound: number,
): number {
  // NaN (several messages, or a header that is not a string) takes the exact measure.
  const size = bound <= messageBytesMax ? bound : messageSizeBytes(message);
  if (size > messageBytesMax) throw new PayloadTooLargeError(topic, size, messageBytesMax);
  return size;
}

/**
 * An upper bound of `messageSizeBytes(message)` found without measuring UTF-8: a UTF-16 code unit
 * is at most 3 UTF-8 bytes. NaN when a header value is not a string (the exact measure then says
 * what is wrong).
 */
function messageSizeBytesAtMost(message: TransportMessage): number {
  let units = message.key === undefined ? 0 : message.key.length;
  const headers = message.headers;
  for (const name of Object.keys(headers)) units += name.length + headers[name]!.length;
  return message.body.byteLength + 3 * units;
}

/**
 * The key's UTF-8 bytes, or null for a keyless message. `Buffer.from` may hand out a slice of
 * Buffer's shared pool: the bytes are only hashed and copied into the batch while the append is
 * encoded (synchronously), so nothing keeps them.
 */
function keyBytes(message: TransportMessage): Uint8Array | null {
  return message.key === undefined ? null : Buffer.from(message.key, 'utf8');
}

/**
 * The record for `message`. Its header object is handed to the log as it is: the log writes it in
 * `Object.keys` order, as pairs built from it were written, without ten small arrays per bus
 * event (docs/benchmarks.md, "The bus event's headers on publish"). The log reads the object only
 * while the append is encoded (synchronously).
 */
function toRecord(message: TransportMessage, key: Uint8Array | null, timestampMs: number): RecordToAppend {
  return { key, value: message.body, headers: message.headers, timestampMs };
}

/**
 * One append to `partition` and the promise its caller gets, in one object: the log's writer calls
 * {@link appended} or {@link failed} (`Partition.appendTo`), which checks the offsets handed out
 * (see {@link checkHandedOut}), wraps a failure as the broker reports storage failures, tells the
 * hooks and settles the promise. A promise from the log, a `then` on it and a closure for its
 * failure were two promises, two microtasks and three closures more per publish.
 */
class AppendRequest implements AppendWaiter {
  readonly promise: Promise<void>;
  #resolve!: () => void;
  #reject!: (error: unknown) => void;
  readonly #target: PublishTarget;
  readonly #partition: number;
  readonly #highWatermarkBefore: bigint;
  readonly #recordCount: bigint;
  readonly #hooks: PublishHooks | undefined;
  readonly #observer: PublishHooks | undefined;

  constructor(
    target: PublishTarget,
    partition: number,
    highWatermarkBefore: bigint,
    recordCount: bigint,
    hooks: PublishHooks | undefined,
    observer: PublishHooks | undefined,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#target = target;
    this.#partition = partition;
    this.#highWatermarkBefore = highWatermarkBefore;
    this.#recordCount = recordCount;
    this.#hooks = hooks;
    this.#observer = observer;
  }

  appended(baseOffset: bigint, recordCount: number): void {
    const lastOffset = recordCount === 1 ? baseOffset : baseOffset + BigInt(recordCount - 1);
    try {
      checkHandedOut(baseOffset, lastOffset, this.#recordCount, this.#highWatermarkBefore);
    } catch (error) {
      this.failed(error);
      return;
    }
    this.#hooks?.published();
    this.#observer?.published();
    this.#resolve();
  }

  failed(error: unknown): void {
    const failure = storageFailure(`publish to ${this.#target.metadata.name}/${this.#partition}`, error);
    this.#hooks?.failed(failure);
    this.#observer?.failed(failure);
    this.#reject(failure);
  }
}

/** One append of a publish of several messages (no hooks: the publish tells them once, at its end). */
function appendToPartition(
  target: PublishTarget,
  partition: number,
  records: readonly RecordToAppend[],
): Promise<void> {
  const log = target.logs[partition]!;
  const request = new AppendRequest(
    target,
    partition,
    log.highWatermark,
    BigInt(records.length),
    undefined,
    undefined,
  );
  log.appendTo(records, request);
  return request.promise;
}

/** The chunks of one partition, one append after the other (their order is the partition's). */
async function appendChunks(
  target: PublishTarget,
  partition: number,
  chunks: readonly Chunk[],
): Promise<void> {
  for (const chunk of chunks) await appendToPartition(target, partition, chunk.records);
}

function addToChunks(
  byPartition: Map<number, Chunk[]>,
  partition: number,
  record: RecordToAppend,
  bytes: number,
) {
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

/**
 * The invariant of offsets handed out by one append of `recordCount` records (undefined: a raw
 * batch whose count the log checked) that started when the high watermark was
 * `highWatermarkBefore`.
 */
export function checkHandedOut(
  baseOffset: bigint,
  lastOffset: bigint,
  recordCount: bigint | undefined,
  highWatermarkBefore: bigint,
): void {
  // The statements are built only when one is broken: with the offsets in them they cost two
  // BigInt-to-text conversions per publish when built up front.
  if (baseOffset < highWatermarkBefore) {
    broken(
      `an append gets offsets at or above the high watermark it started from (got ${baseOffset}, high watermark was ${highWatermarkBefore})`,
    );
  }
  const dense =
    lastOffset >= baseOffset &&
    (recordCount === undefined ||
      (recordCount === 1n ? lastOffset === baseOffset : lastOffset - baseOffset + 1n === recordCount));
  if (!dense) {
    broken(
      `an append gets one dense offset per record (got ${baseOffset}..${lastOffset} for ${String(recordCount)} records)`,
    );
  }
}
