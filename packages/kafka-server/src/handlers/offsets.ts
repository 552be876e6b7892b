/**
 * OffsetCommit (2-7) and OffsetFetch (1-5). Committed offsets are stored durably by the broker
 * (`Broker.commitOffsets`, fsynced before the response) with their metadata. As Kafka's group
 * coordinator: any offset is stored, negative ones too (KafkaJS commits -1 / -2 to mean "reset to
 * latest / earliest"; a consumer reading a negative committed offset applies its reset policy);
 * metadata longer than 4096 characters (`offset.metadata.max.bytes`) is refused with
 * OFFSET_METADATA_TOO_LARGE for that partition; a commit without metadata (null) and a partition
 * with nothing committed read back "" (never null). Generation -1 with member "" is a simple
 * consumer's commit, accepted while the group has no members.
 */
import type { CommittedOffset } from '@herald/broker';
import {
  ERROR_CODE,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetFetchPartition,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
} from '@herald/kafka-protocol';
import type { ServerContext } from '../context.ts';
import { brokerErrorCode } from '../error-mapping.ts';

const GROUP_ID = /^[A-Za-z0-9._-]{1,200}$/;
/**
 * Longest commit metadata accepted (Kafka's `offset.metadata.max.bytes` default). Kafka compares
 * it with the string's length in UTF-16 code units (`String.length()`), and so does this.
 */
const METADATA_LENGTH_MAX = 4096;

/** Handles OffsetCommit. */
export async function handleOffsetCommit(
  context: ServerContext,
  request: OffsetCommitRequest,
): Promise<OffsetCommitResponse> {
  const everywhere = (errorCode: number): OffsetCommitResponse => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => ({
        partitionIndex: partition.partitionIndex,
        errorCode,
      })),
    })),
  });
  if (!GROUP_ID.test(request.groupId)) return everywhere(ERROR_CODE.INVALID_GROUP_ID);
  const allowed = context.groups.checkCommit(
    request.groupId,
    request.memberId,
    request.generationIdOrMemberEpoch,
    request.groupInstanceId ?? null,
  );
  if (allowed !== ERROR_CODE.NONE) return everywhere(allowed);
  const topics = await Promise.all(
    request.topics.map(async (topic) => {
      const count = await context.topics.partitions(topic.name);
      const errors = new Map<number, number>();
      const offsets = new Map<number, CommittedOffset>();
      for (const partition of topic.partitions) {
        const index = partition.partitionIndex;
        if (count === undefined || index < 0 || index >= count)
          errors.set(index, ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION);
        else if ((partition.committedMetadata ?? '').length > METADATA_LENGTH_MAX) {
          errors.set(index, ERROR_CODE.OFFSET_METADATA_TOO_LARGE);
        } else {
          // Kafka stores a null metadata as "" (OffsetAndMetadata.NO_METADATA).
          offsets.set(index, {
            offset: partition.committedOffset,
            metadata: partition.committedMetadata ?? '',
          });
        }
      }
      if (offsets.size > 0) {
        try {
          await context.broker.commitOffsets(topic.name, request.groupId, offsets);
        } catch (error) {
          context.onError(error);
          const errorCode = brokerErrorCode(error);
          for (const index of offsets.keys()) errors.set(index, errorCode);
        }
      }
      return {
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({
          partitionIndex: partition.partitionIndex,
          errorCode: errors.get(partition.partitionIndex) ?? ERROR_CODE.NONE,
        })),
      };
    }),
  );
  return { throttleTimeMs: 0, topics };
}

/** Handles OffsetFetch; -1 for partitions with nothing committed. */
export async function handleOffsetFetch(
  context: ServerContext,
  request: OffsetFetchRequest,
): Promise<OffsetFetchResponse> {
  if (!GROUP_ID.test(request.groupId)) {
    return { throttleTimeMs: 0, topics: [], errorCode: ERROR_CODE.INVALID_GROUP_ID };
  }
  const wanted =
    request.topics ??
    (await Promise.all(
      (
        await context.broker.committedTopics(request.groupId)
      ).map(async (name) => ({
        name,
        partitionIndexes: [...(await context.broker.committedOffsets(name, request.groupId)).keys()].sort(
          (a, b) => a - b,
        ),
      })),
    ));
  const topics = await Promise.all(
    wanted.map(async (topic) => {
      const exists = (await context.topics.partitions(topic.name)) !== undefined;
      const committed: ReadonlyMap<number, CommittedOffset> = exists
        ? await context.broker.committedOffsetsWithMetadata(topic.name, request.groupId)
        : new Map();
      const partitions: OffsetFetchPartition[] = topic.partitionIndexes.map((partitionIndex) => ({
        partitionIndex,
        committedOffset: committed.get(partitionIndex)?.offset ?? -1n,
        committedLeaderEpoch: -1,
        metadata: committed.get(partitionIndex)?.metadata ?? '',
        errorCode: ERROR_CODE.NONE,
      }));
      return { name: topic.name, partitions };
    }),
  );
  return { throttleTimeMs: 0, topics, errorCode: ERROR_CODE.NONE };
}
