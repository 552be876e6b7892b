/**
 * Metadata (0-12; flexible from 9): this node as the only broker, controller and leader of every partition
 * (leader epoch -1). Named topics that do not exist are created when the request allows it:
 * implicitly for v0-3 (Kafka's behaviour, which kafka-python relies on), through
 * `allow_auto_topic_creation` for v4+. Topic ids (v10+) are not kept: every topic reports the zero
 * id, and a topic asked for by id alone is answered UNKNOWN_TOPIC_ID.
 */
import {
  ERROR_CODE,
  type MetadataRequest,
  type MetadataResponse,
  type MetadataTopic,
} from '@herald/kafka-protocol';
import { NODE_ID, type ServerContext } from '../context.ts';
import { ensureTopic, isLegalTopicName } from './topics.ts';

function describe(name: string | null, errorCode: number, partitions: number): MetadataTopic {
  return {
    errorCode,
    name,
    isInternal: false,
    partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({
      errorCode: ERROR_CODE.NONE,
      partitionIndex,
      leaderId: NODE_ID,
      leaderEpoch: -1,
      replicaNodes: [NODE_ID],
      isrNodes: [NODE_ID],
      offlineReplicas: [],
    })),
  };
}

/** Handles Metadata. */
export async function handleMetadata(
  context: ServerContext,
  request: MetadataRequest,
  version: number,
): Promise<MetadataResponse> {
  const all = request.topics === null || (version === 0 && request.topics.length === 0);
  const topics: MetadataTopic[] = [];
  if (all) {
    for (const name of context.broker.listTopics()) {
      const partitions = await context.topics.partitions(name);
      if (partitions !== undefined) topics.push(describe(name, ERROR_CODE.NONE, partitions));
    }
  } else {
    const create = context.autoCreateTopics && (version < 4 || request.allowAutoTopicCreation);
    for (const { name } of request.topics ?? []) {
      if (name === null) {
        topics.push(describe(version >= 12 ? null : '', ERROR_CODE.UNKNOWN_TOPIC_ID, 0));
        continue;
      }
      const partitions = await context.topics.partitions(name);
      if (partitions !== undefined) {
        topics.push(describe(name, ERROR_CODE.NONE, partitions));
      } else if (!isLegalTopicName(name)) {
        topics.push(describe(name, ERROR_CODE.INVALID_TOPIC_EXCEPTION, 0));
      } else if (create) {
        const created = await ensureTopic(context, name);
        topics.push(describe(name, created.errorCode, created.partitions));
      } else {
        topics.push(describe(name, ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION, 0));
      }
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: NODE_ID, host: context.advertisedHost, port: context.advertisedPort, rack: null }],
    clusterId: context.clusterId,
    controllerId: NODE_ID,
    topics,
  };
}
