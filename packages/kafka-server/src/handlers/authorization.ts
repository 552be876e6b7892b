/**
 * Enforces ACLs around the handlers, as Kafka's `KafkaApis` does: per topic where a request names
 * several (denied topics get TOPIC_AUTHORIZATION_FAILED, the rest is served), per group
 * (GROUP_AUTHORIZATION_FAILED) and on the cluster (CLUSTER_AUTHORIZATION_FAILED). The operations
 * are Kafka's: Produce WRITE topic; Fetch READ topic; Metadata, ListOffsets DESCRIBE topic;
 * CreateTopics CREATE cluster or topic; DeleteTopics DELETE topic; JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup READ group; OffsetCommit READ group and topic; OffsetFetch DESCRIBE group
 * and topic; DescribeGroups DESCRIBE group; ListGroups DESCRIBE cluster, else the groups it may
 * describe; DeleteGroups DELETE group; OffsetDelete DELETE group and READ topic; DescribeConfigs
 * DESCRIBE topic or cluster. Used only when the server runs with ACLs.
 */
import type {
  CreateTopicsRequest,
  CreateTopicsResponse,
  DeleteTopicsRequest,
  DeleteTopicsResponse,
  FetchRequest,
  FetchResponse,
  ListOffsetsRequest,
  ListOffsetsResponse,
  MetadataRequest,
  MetadataResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
  ProduceRequest,
  ProduceResponse,
} from '@herald/kafka-protocol';
import type { ServerContext } from '../context.ts';
import { deniedErrorCode } from '../error-mapping.ts';
import type { AclOperation } from '../security/acl-store.ts';
import type { Authorizer } from '../security/authorizer.ts';

/** Who asks: the principal of the connection and the server's authorizer. */
export interface Requester {
  readonly principal: string;
  readonly authorizer: Authorizer;
}

const DENIED_MESSAGE = 'not authorised; ask an operator for an ACL (herald acls add)';

/** Splits `items` by whether `name(item)` may have `operation` on its topic. */
function splitTopics<T>(
  requester: Requester,
  operation: AclOperation,
  items: readonly T[],
  name: (item: T) => string,
): { allowed: T[]; denied: T[] } {
  const allowed: T[] = [];
  const denied: T[] = [];
  for (const item of items) {
    const permitted = requester.authorizer.authorize(requester.principal, operation, 'topic', name(item));
    (permitted ? allowed : denied).push(item);
  }
  return { allowed, denied };
}

/** True when the principal may `operation` the group. */
export function mayGroup(requester: Requester, operation: AclOperation, group: string): boolean {
  return requester.authorizer.authorize(requester.principal, operation, 'group', group);
}

/** Produce: WRITE per topic. */
export async function authorizeProduce(
  requester: Requester,
  request: ProduceRequest,
  run: (request: ProduceRequest) => Promise<object | null>,
): Promise<object | null> {
  const { allowed, denied } = splitTopics(requester, 'write', request.topicData, (topic) => topic.name);
  if (denied.length === 0) return run(request);
  const served = (
    allowed.length === 0 ? null : await run({ ...request, topicData: allowed })
  ) as ProduceResponse | null;
  if (request.acks === 0) return null;
  const refused = denied.map((topic) => ({
    name: topic.name,
    partitionResponses: topic.partitionData.map((partition) => ({
      index: partition.index,
      errorCode: deniedErrorCode('topic'),
      baseOffset: -1n,
      logAppendTimeMs: -1n,
      logStartOffset: -1n,
      recordErrors: [],
      errorMessage: DENIED_MESSAGE,
    })),
  }));
  return { throttleTimeMs: 0, ...served, responses: [...(served?.responses ?? []), ...refused] };
}

/** Fetch: READ per topic. */
export async function authorizeFetch(
  requester: Requester,
  request: FetchRequest,
  run: (request: FetchRequest) => Promise<FetchResponse>,
): Promise<FetchResponse> {
  const { allowed, denied } = splitTopics(requester, 'read', request.topics, (topic) => topic.topic);
  if (denied.length === 0) return run(request);
  // With nothing left to read, answer at once instead of long-polling an empty request.
  const served = await run({
    ...request,
    topics: allowed,
    ...(allowed.length === 0 ? { maxWaitMs: 0 } : {}),
  });
  const refused = denied.map((topic) => ({
    topic: topic.topic,
    partitions: topic.partitions.map((partition) => ({
      partitionIndex: partition.partition,
      errorCode: deniedErrorCode('topic'),
      highWatermark: -1n,
      lastStableOffset: -1n,
      logStartOffset: -1n,
      abortedTransactions: null,
      preferredReadReplica: -1,
      records: null,
    })),
  }));
  return { ...served, responses: [...served.responses, ...refused] } as FetchResponse;
}

/** ListOffsets: DESCRIBE per topic. */
export async function authorizeListOffsets(
  requester: Requester,
  request: ListOffsetsRequest,
  run: (request: ListOffsetsRequest) => Promise<ListOffsetsResponse>,
): Promise<ListOffsetsResponse> {
  const { allowed, denied } = splitTopics(requester, 'describe', request.topics, (topic) => topic.name);
  if (denied.length === 0) return run(request);
  const served = await run({ ...request, topics: allowed });
  const refused = denied.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((partition) => ({
      partitionIndex: partition.partitionIndex,
      errorCode: deniedErrorCode('topic'),
      timestamp: -1n,
      offset: -1n,
      leaderEpoch: -1,
    })),
  }));
  return { ...served, topics: [...served.topics, ...refused] };
}

/**
 * Metadata: DESCRIBE per topic. Listing every topic omits the ones the principal may not
 * describe (as Kafka); a named topic it may not describe is TOPIC_AUTHORIZATION_FAILED; a missing
 * topic is auto-created only with CREATE on the cluster or the topic.
 */
export async function authorizeMetadata(
  requester: Requester,
  context: ServerContext,
  request: MetadataRequest,
  run: (context: ServerContext, request: MetadataRequest) => Promise<MetadataResponse>,
): Promise<MetadataResponse> {
  const { principal, authorizer } = requester;
  if (request.topics === null || request.topics.length === 0) {
    const served = await run(context, request);
    return {
      ...served,
      topics: served.topics.filter(
        (topic) => topic.name === null || authorizer.authorize(principal, 'describe', 'topic', topic.name),
      ),
    };
  }
  const mayCreate = (name: string) =>
    authorizer.authorize(principal, 'create', 'cluster', 'kafka-cluster') ||
    authorizer.authorize(principal, 'create', 'topic', name);
  const named = request.topics.filter((topic) => topic.name !== null);
  const { allowed, denied } = splitTopics(requester, 'describe', named, (topic) => topic.name!);
  const creatable = allowed.filter((topic) => mayCreate(topic.name!));
  const notCreatable = allowed.filter((topic) => !creatable.includes(topic));
  const served = creatable.length === 0 ? undefined : await run(context, { ...request, topics: creatable });
  const described =
    notCreatable.length === 0
      ? undefined
      : await run({ ...context, autoCreateTopics: false }, { ...request, topics: notCreatable });
  const unnamed =
    named.length === request.topics.length
      ? undefined
      : await run(context, { ...request, topics: request.topics.filter((topic) => topic.name === null) });
  const base = served ?? described ?? unnamed ?? (await run(context, { ...request, topics: [] }));
  const refused = denied.map((topic) => ({
    errorCode: deniedErrorCode('topic'),
    name: topic.name,
    isInternal: false,
    partitions: [],
  }));
  return {
    ...base,
    topics: [...(served?.topics ?? []), ...(described?.topics ?? []), ...(unnamed?.topics ?? []), ...refused],
  };
}

/** CreateTopics: CREATE on the cluster or on each topic. */
export async function authorizeCreateTopics(
  requester: Requester,
  request: CreateTopicsRequest,
  run: (request: CreateTopicsRequest) => Promise<CreateTopicsResponse>,
): Promise<CreateTopicsResponse> {
  if (requester.authorizer.authorize(requester.principal, 'create', 'cluster', 'kafka-cluster')) {
    return run(request);
  }
  const { allowed, denied } = splitTopics(requester, 'create', request.topics, (topic) => topic.name);
  const served = await run({ ...request, topics: allowed });
  const refused = denied.map((topic) => ({
    name: topic.name,
    errorCode: deniedErrorCode('topic'),
    errorMessage: DENIED_MESSAGE,
    numPartitions: -1,
    replicationFactor: -1,
    configs: [],
  }));
  return { ...served, topics: [...served.topics, ...refused] };
}

/** DeleteTopics: DELETE per topic. */
export async function authorizeDeleteTopics(
  requester: Requester,
  request: DeleteTopicsRequest,
  run: (request: DeleteTopicsRequest) => Promise<DeleteTopicsResponse>,
): Promise<DeleteTopicsResponse> {
  const { allowed, denied } = splitTopics(requester, 'delete', request.topicNames, (name) => name);
  if (denied.length === 0) return run(request);
  const served = await run({ ...request, topicNames: allowed });
  const refused = denied.map((name) => ({
    name,
    errorCode: deniedErrorCode('topic'),
    errorMessage: DENIED_MESSAGE,
  }));
  return { ...served, responses: [...served.responses, ...refused] };
}

/** OffsetCommit: READ on the group (else every partition fails), READ per topic. */
export async function authorizeOffsetCommit(
  requester: Requester,
  request: OffsetCommitRequest,
  run: (request: OffsetCommitRequest) => Promise<OffsetCommitResponse>,
): Promise<OffsetCommitResponse> {
  const groupAllowed = mayGroup(requester, 'read', request.groupId);
  const { allowed, denied } = groupAllowed
    ? splitTopics(requester, 'read', request.topics, (topic) => topic.name)
    : { allowed: [], denied: request.topics };
  if (denied.length === 0) return run(request);
  const served = allowed.length === 0 ? undefined : await run({ ...request, topics: allowed });
  const errorCode = groupAllowed ? deniedErrorCode('topic') : deniedErrorCode('group');
  const refused = denied.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((partition) => ({
      partitionIndex: partition.partitionIndex,
      errorCode,
    })),
  }));
  return { throttleTimeMs: 0, topics: [...(served?.topics ?? []), ...refused] };
}

/** OffsetFetch: DESCRIBE on the group (else a group error), DESCRIBE per topic. */
export async function authorizeOffsetFetch(
  requester: Requester,
  request: OffsetFetchRequest,
  run: (request: OffsetFetchRequest) => Promise<OffsetFetchResponse>,
): Promise<OffsetFetchResponse> {
  if (!mayGroup(requester, 'describe', request.groupId)) {
    return { throttleTimeMs: 0, topics: [], errorCode: deniedErrorCode('group') };
  }
  const { principal, authorizer } = requester;
  if (request.topics === null) {
    // All committed topics: the ones the principal may not describe are left out, as in Kafka.
    const served = await run(request);
    return {
      ...served,
      topics: served.topics.filter((topic) =>
        authorizer.authorize(principal, 'describe', 'topic', topic.name),
      ),
    };
  }
  const { allowed, denied } = splitTopics(requester, 'describe', request.topics, (topic) => topic.name);
  if (denied.length === 0) return run(request);
  const served = await run({ ...request, topics: allowed });
  const refused = denied.map((topic) => ({
    name: topic.name,
    partitions: topic.partitionIndexes.map((partitionIndex) => ({
      partitionIndex,
      committedOffset: -1n,
      committedLeaderEpoch: -1,
      metadata: null,
      errorCode: deniedErrorCode('topic'),
    })),
  }));
  return { ...served, topics: [...served.topics, ...refused] };
}
