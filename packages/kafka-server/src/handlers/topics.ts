/**
 * CreateTopics (2-4), DeleteTopics (1-3) and the auto-creation Metadata relies on. Topics get
 * replication factor 1 on this single node. Topic configs the log supports are applied and stored
 * with the topic; others are INVALID_CONFIG (see `topic-configs.ts`).
 */
import { PARTITIONS_MAX, TopicExistsError, TopicInUseError, TopicNotFoundError } from '@herald/broker';
import {
  type CreateTopicsRequest,
  type CreateTopicsResponse,
  type DeleteTopicsRequest,
  type DeleteTopicsResponse,
  ERROR_CODE,
} from '@herald/kafka-protocol';
import type { ServerContext } from '../context.ts';
import { parseTopicConfigs } from '../topic-configs.ts';

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** True when `name` is a legal Kafka topic name. */
export function isLegalTopicName(name: string): boolean {
  return TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}

/**
 * Creates `name` with the default partition count unless it exists; resolves its partition count
 * and an error code (0, INVALID_TOPIC_EXCEPTION or UNKNOWN_SERVER_ERROR).
 */
export async function ensureTopic(
  context: ServerContext,
  name: string,
): Promise<{ errorCode: number; partitions: number }> {
  const existing = await context.topics.partitions(name);
  if (existing !== undefined) return { errorCode: ERROR_CODE.NONE, partitions: existing };
  if (!isLegalTopicName(name)) return { errorCode: ERROR_CODE.INVALID_TOPIC_EXCEPTION, partitions: 0 };
  try {
    const created = await context.broker.createTopic(name, { partitions: context.defaultPartitions });
    context.topics.remember(name, created.partitions.length);
    return { errorCode: ERROR_CODE.NONE, partitions: created.partitions.length };
  } catch (error) {
    if (error instanceof TopicExistsError) {
      const partitions = await context.topics.partitions(name);
      if (partitions !== undefined) return { errorCode: ERROR_CODE.NONE, partitions };
    }
    context.onError(error);
    return { errorCode: ERROR_CODE.UNKNOWN_SERVER_ERROR, partitions: 0 };
  }
}

async function createOne(
  context: ServerContext,
  topic: CreateTopicsRequest['topics'][number],
  validateOnly: boolean,
): Promise<{ errorCode: number; errorMessage: string | null }> {
  const fail = (errorCode: number, errorMessage: string) => ({ errorCode, errorMessage });
  if (!isLegalTopicName(topic.name)) {
    return fail(
      ERROR_CODE.INVALID_TOPIC_EXCEPTION,
      `topic name "${topic.name}" is not legal: use 1-249 of [a-zA-Z0-9._-]`,
    );
  }
  let partitions = topic.numPartitions === -1 ? context.defaultPartitions : topic.numPartitions;
  if (topic.assignments.length > 0) {
    if (
      topic.numPartitions !== -1 ||
      topic.assignments.some((entry) => entry.brokerIds.some((id) => id !== 0))
    ) {
      return fail(
        ERROR_CODE.INVALID_REQUEST,
        'manual assignments must name only broker 0 and leave num_partitions at -1',
      );
    }
    partitions = topic.assignments.length;
  }
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_MAX) {
    return fail(
      ERROR_CODE.INVALID_PARTITIONS,
      `partitions must be 1 to ${PARTITIONS_MAX}, got ${partitions}`,
    );
  }
  if (topic.replicationFactor !== -1 && topic.replicationFactor !== 1) {
    return fail(
      ERROR_CODE.INVALID_REPLICATION_FACTOR,
      `replication factor ${topic.replicationFactor} is larger than the 1 broker available`,
    );
  }
  if ((await context.topics.partitions(topic.name)) !== undefined) {
    return fail(ERROR_CODE.TOPIC_ALREADY_EXISTS, `topic "${topic.name}" already exists`);
  }
  const parsed = parseTopicConfigs(topic.configs);
  if ('error' in parsed) return fail(ERROR_CODE.INVALID_CONFIG, parsed.error);
  if (validateOnly) return { errorCode: ERROR_CODE.NONE, errorMessage: null };
  try {
    await context.broker.createTopic(topic.name, { partitions, config: parsed.config });
    context.topics.remember(topic.name, partitions);
    return { errorCode: ERROR_CODE.NONE, errorMessage: null };
  } catch (error) {
    if (error instanceof TopicExistsError) {
      return fail(ERROR_CODE.TOPIC_ALREADY_EXISTS, `topic "${topic.name}" already exists`);
    }
    context.onError(error);
    return fail(ERROR_CODE.UNKNOWN_SERVER_ERROR, (error as Error).message);
  }
}

/** Handles CreateTopics. */
export async function handleCreateTopics(
  context: ServerContext,
  request: CreateTopicsRequest,
): Promise<CreateTopicsResponse> {
  const topics: { name: string; errorCode: number; errorMessage: string | null }[] = [];
  // As Kafka: a name given twice is not created at all, and answered once.
  const counts = new Map<string, number>();
  for (const topic of request.topics) counts.set(topic.name, (counts.get(topic.name) ?? 0) + 1);
  const answered = new Set<string>();
  for (const topic of request.topics) {
    if (answered.has(topic.name)) continue;
    answered.add(topic.name);
    if (counts.get(topic.name)! > 1) {
      topics.push({
        name: topic.name,
        errorCode: ERROR_CODE.INVALID_REQUEST,
        errorMessage: `topic "${topic.name}" is named more than once in the request`,
      });
      continue;
    }
    topics.push({ name: topic.name, ...(await createOne(context, topic, request.validateOnly)) });
  }
  return { throttleTimeMs: 0, topics };
}

/** Handles DeleteTopics. */
export async function handleDeleteTopics(
  context: ServerContext,
  request: DeleteTopicsRequest,
): Promise<DeleteTopicsResponse> {
  const responses: { name: string; errorCode: number }[] = [];
  for (const name of request.topicNames) {
    try {
      await context.broker.deleteTopic(name);
      context.topics.forget(name);
      context.groups.forgetTopic(name);
      context.producers.forgetTopic(name);
      responses.push({ name, errorCode: ERROR_CODE.NONE });
    } catch (error) {
      if (error instanceof TopicNotFoundError) {
        responses.push({ name, errorCode: ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION });
      } else if (error instanceof TopicInUseError) {
        responses.push({ name, errorCode: ERROR_CODE.INVALID_REQUEST });
      } else {
        context.onError(error);
        responses.push({
          name,
          errorCode: isLegalTopicName(name)
            ? ERROR_CODE.UNKNOWN_SERVER_ERROR
            : ERROR_CODE.INVALID_TOPIC_EXCEPTION,
        });
      }
    }
  }
  return { throttleTimeMs: 0, responses };
}
