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
    if (timestamp < 0n) return answer(ERROR_CODE.INVALID_REQUEST, -1n);
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

/** Handles ListOffsets. */
export async function handleListOffsets(
  context: ServerContext,
  request: ListOffsetsRequest,
): Promise<ListOffsetsResponse> {
  return {
    throttleTimeMs: 0,
    topics: await Promise.all(
      request.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map((partition) =>
            lookup(context, topic.name, partition.partitionIndex, partition.timestamp),
          ),
        ),
      })),
    ),
  };
}
