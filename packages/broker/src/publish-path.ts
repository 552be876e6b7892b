/**
 * The publish path: where each message of a `publish` goes (Kafka's murmur2 partition for keyed
 * messages, the next partition in turn for the keyless ones of one call), how a partition's share
 * is split into appends (at most 4 MiB each, under the log's 8 MiB batch limit), and the check
 * that every append got the offsets the log promises.
 */
import type { TransportMessage } from '@herald/bus';
import { partitionForKey, utf8Bytes } from '@herald/bus/internal';
import { invariant } from './invariant.ts';
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
 * Appends `messages` to `target` in order, one append per partition (split only above 4 MiB);
 * `sizes[i]` is `messageSizeBytes(messages[i])`. Resolves once every append is durable per the
 * log's fsync policy; rejects with the log's error wrapped in `BrokerStorageError`.
 */
export async function appendMessages(
  target: PublishTarget,
  messages: readonly TransportMessage[],
  sizes: readonly number[],
): Promise<void> {
  const partitions = target.logs.length;
  const keyless = target.nextKeylessPartition;
  target.nextKeylessPartition = (keyless + 1) % partitions;
  const timestampMs = Date.now();
  const byPartition = new Map<number, Chunk[]>();
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
    addToChunks(byPartition, partition, record, sizes[index]! + RECORD_OVERHEAD_BYTES);
  }
  await Promise.all(
    [...byPartition].map(async ([partition, chunks]) => {
      const log = target.logs[partition]!;
      for (const chunk of chunks) {
        try {
          await appendChecked(log, chunk.records);
        } catch (error) {
          throw storageFailure(`publish to ${target.metadata.name}/${partition}`, error);
        }
      }
    }),
  );
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
 * Appends `records` and checks the offsets the log handed out: dense, one per record, and never
 * below the high watermark the append started from (offsets of one partition only grow; an
 * offset handed out twice would make two messages share a position).
 */
export async function appendChecked(
  log: PartitionLog,
  records: readonly RecordToAppend[],
): Promise<{ baseOffset: bigint; lastOffset: bigint }> {
  const highWatermarkBefore = log.highWatermark;
  const offsets = await log.append(records);
  checkHandedOut(offsets, BigInt(records.length), highWatermarkBefore);
  return offsets;
}

/**
 * The invariant of offsets handed out by one append of `recordCount` records (undefined: a raw
 * batch whose count the log checked) that started when the high watermark was
 * `highWatermarkBefore`.
 */
export function checkHandedOut(
  offsets: { readonly baseOffset: bigint; readonly lastOffset: bigint },
  recordCount: bigint | undefined,
  highWatermarkBefore: bigint,
): void {
  invariant(
    offsets.baseOffset >= highWatermarkBefore,
    `an append gets offsets at or above the high watermark it started from (got ${offsets.baseOffset}, high watermark was ${highWatermarkBefore})`,
  );
  invariant(
    offsets.lastOffset >= offsets.baseOffset &&
      (recordCount === undefined || offsets.lastOffset - offsets.baseOffset + 1n === recordCount),
    `an append gets one dense offset per record (got ${offsets.baseOffset}..${offsets.lastOffset} for ${String(recordCount)} records)`,
  );
}
