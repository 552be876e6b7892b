/**
 * ListOffsets (1-5): earliest (-2), latest (-1, the high watermark) or the first offset whose
 * record timestamp is at or after the given time, with that record's timestamp (-1 when there is
 * none, as Kafka answers).
 */
import {
  ERROR_CODE,
  LIST_OFFSETS_EARLIEST,
  LIST_OFFSETS_LATEST,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
} from '@herald/kafka-protocol';
import type { ServerContext } from '../context.ts';
import { readErrorCode } from '../error-mapping.ts';

type PartitionAnswer = ListOffsetsResponse['topics'][number]['partitions'][number];

async function lookup(
  context: ServerContext,
  topic: string,
  partitionIndex: number,
  timestamp: bigint,
): Promise<PartitionAnswer> {
  const answer = (errorCode: number, offset: bigint, at = -1n): PartitionAnswer => ({
    partitionIndex,
    errorCode,
    timestamp: at,
    offset,
    leaderEpoch: -1,
  });
  const count = await context.topics.partitions(topic);
  if (count === undefined || partitionIndex < 0 || partitionIndex >= count) {
    return answer(ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION, -1n);
  }
  try {
    const offsets = await context.broker.partitionOffsets(topic, partitionIndex);
    if (timestamp === LIST_OFFSETS_LATEST) return answer(ERROR_CODE.NONE, offsets.highWatermark);
    if (timestamp === LIST_OFFSETS_EARLIEST) return answer(ERROR_CODE.NONE, offsets.logStartOffset);
    // -3 (max timestamp), -4 (earliest local) and -5 (earliest tiered) need v7, v8 and v9; other
    // negative timestamps are searched like any other, as Kafka does.
    if (timestamp >= TIMESTAMP_SPECIAL_MIN && timestamp < 0n)
      return answer(ERROR_CODE.UNSUPPORTED_VERSION, -1n);
    // As Kafka: the found record's own timestamp, not the one asked for.
    const found = await context.broker.recordForTimestamp(topic, partitionIndex, Number(timestamp));
    return found === undefined
      ? answer(ERROR_CODE.NONE, -1n)
      : answer(ERROR_CODE.NONE, found.offset, BigInt(found.timestampMs));
  } catch (error) {
    context.onError(error);
    return answer(readErrorCode(error), -1n);
  }
}

/** The lowest of the special negative timestamps (-5, earliest tiered offset). */
const TIMESTAMP_SPECIAL_MIN = -5n;

/**
 * Handles ListOffsets. As Kafka, a partition named more than once in the request is answered once,
 * with INVALID_REQUEST.
 */
export async function handleListOffsets(
  context: ServerContext,
  request: ListOffsetsRequest,
): Promise<ListOffsetsResponse> {
  const counts = new Map<string, number>();
  const key = (topic: string, partition: number) => `${topic}\0${partition}`;
  for (const topic of request.topics) {
    for (const { partitionIndex } of topic.partitions) {
      counts.set(key(topic.name, partitionIndex), (counts.get(key(topic.name, partitionIndex)) ?? 0) + 1);
    }
  }
  const answered = new Set<string>();
  return {
    throttleTimeMs: 0,
    topics: await Promise.all(
      request.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions
            .filter(({ partitionIndex }) => {
              const seen = answered.has(key(topic.name, partitionIndex));
              answered.add(key(topic.name, partitionIndex));
              return !seen;
            })
            .map(async (partition): Promise<PartitionAnswer> => {
              if (counts.get(key(topic.name, partition.partitionIndex))! > 1) {
                return {
                  partitionIndex: partition.partitionIndex,
                  errorCode: ERROR_CODE.INVALID_REQUEST,
                  timestamp: -1n,
                  offset: -1n,
                  leaderEpoch: -1,
                };
              }
              return lookup(context, topic.name, partition.partitionIndex, partition.timestamp);
            }),
        ),
      })),
    ),
  };
}
