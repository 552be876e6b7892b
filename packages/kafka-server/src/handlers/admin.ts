/**
 * The admin APIs Kafka's tools and the Java `Admin` client call beyond topics and groups:
 *
 * - DescribeConfigs (1-4): a topic's configuration (`kafka-topics --describe` prints it) and the
 *   broker's, as the fixed values this server applies to every topic, each reported as a default
 *   (source DEFAULT_CONFIG, read-only). Per-topic configs are not stored yet.
 * - DeleteGroups (1-2): an Empty group (or one known only by its committed offsets) is forgotten
 *   with all its committed offsets; a group with members gets NON_EMPTY_GROUP, an unknown one
 *   GROUP_ID_NOT_FOUND, as Kafka answers.
 * - OffsetDelete (0): forgets a group's committed offsets of some partitions. While the group has
 *   members every partition gets GROUP_SUBSCRIBED_TO_TOPIC (Kafka checks the members'
 *   subscriptions; this server does not decode them, so it refuses whenever anyone is in).
 */
import {
  type DeleteGroupsRequest,
  type DeleteGroupsResponse,
  type DescribeConfigsRequest,
  type DescribeConfigsResponse,
  ERROR_CODE,
  type OffsetDeleteRequest,
  type OffsetDeleteResponse,
} from '@herald/kafka-protocol';
import type { ServerContext } from '../context.ts';
import { NODE_ID } from '../context.ts';
import { brokerErrorCode } from '../error-mapping.ts';

/** Kafka's ConfigResource.Type codes. */
const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;
/** Kafka's ConfigSource DEFAULT_CONFIG and ConfigType codes (STRING 2, INT 3, LONG 5). */
const SOURCE_DEFAULT = 5;
const TYPE_STRING = 2;
const TYPE_INT = 3;
const TYPE_LONG = 5;

interface ConfigEntry {
  readonly name: string;
  readonly value: string;
  readonly type: number;
  readonly documentation: string;
}

/** What every topic gets: no per-topic configuration is stored, so these are the server's own. */
const TOPIC_CONFIGS: readonly ConfigEntry[] = [
  {
    name: 'cleanup.policy',
    value: 'delete',
    type: 7,
    documentation: 'Segments are deleted, never compacted.',
  },
  {
    name: 'compression.type',
    value: 'producer',
    type: TYPE_STRING,
    documentation: 'Batches are stored as sent.',
  },
  { name: 'max.message.bytes', value: '1048576', type: TYPE_INT, documentation: 'Largest record.' },
  {
    name: 'message.timestamp.type',
    value: 'CreateTime',
    type: TYPE_STRING,
    documentation: 'Timestamps are the producer’s.',
  },
  { name: 'min.insync.replicas', value: '1', type: TYPE_INT, documentation: 'One node, one replica.' },
  { name: 'retention.bytes', value: '-1', type: TYPE_LONG, documentation: 'No size limit.' },
  { name: 'retention.ms', value: '-1', type: TYPE_LONG, documentation: 'Kept until deleted.' },
  { name: 'segment.bytes', value: '1073741824', type: TYPE_INT, documentation: 'Log segment size.' },
];

function brokerConfigs(context: ServerContext): readonly ConfigEntry[] {
  return [
    {
      name: 'auto.create.topics.enable',
      value: String(context.autoCreateTopics),
      type: 1,
      documentation: '',
    },
    { name: 'broker.id', value: String(NODE_ID), type: TYPE_INT, documentation: '' },
    { name: 'num.partitions', value: String(context.defaultPartitions), type: TYPE_INT, documentation: '' },
    { name: 'offsets.topic.replication.factor', value: '1', type: 4, documentation: '' },
  ];
}

type DescribeConfigsResult = DescribeConfigsResponse['results'][number];

function configResult(
  resourceType: number,
  resourceName: string,
  entries: readonly ConfigEntry[],
  keys: readonly string[] | null,
  includeDocumentation: boolean,
): DescribeConfigsResult {
  const wanted =
    keys === null || keys.length === 0 ? entries : entries.filter((entry) => keys.includes(entry.name));
  return {
    errorCode: ERROR_CODE.NONE,
    errorMessage: null,
    resourceType,
    resourceName,
    configs: wanted.map((entry) => ({
      name: entry.name,
      value: entry.value,
      readOnly: true,
      isDefault: true,
      configSource: SOURCE_DEFAULT,
      isSensitive: false,
      synonyms: [],
      configType: entry.type,
      documentation: includeDocumentation ? entry.documentation : null,
    })),
  };
}

/** Handles DescribeConfigs. */
export async function handleDescribeConfigs(
  context: ServerContext,
  request: DescribeConfigsRequest,
): Promise<DescribeConfigsResponse> {
  const results = await Promise.all(
    request.resources.map(async (resource): Promise<DescribeConfigsResult> => {
      const failed = (errorCode: number, errorMessage: string): DescribeConfigsResult => ({
        errorCode,
        errorMessage,
        resourceType: resource.resourceType,
        resourceName: resource.resourceName,
        configs: [],
      });
      const documentation = request.includeDocumentation === true;
      if (resource.resourceType === RESOURCE_TOPIC) {
        if ((await context.topics.partitions(resource.resourceName)) === undefined)
          return failed(
            ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION,
            `topic ${resource.resourceName} does not exist`,
          );
        return configResult(
          RESOURCE_TOPIC,
          resource.resourceName,
          TOPIC_CONFIGS,
          resource.configurationKeys,
          documentation,
        );
      }
      if (resource.resourceType === RESOURCE_BROKER) {
        if (resource.resourceName !== '' && resource.resourceName !== String(NODE_ID))
          return failed(
            ERROR_CODE.INVALID_REQUEST,
            `no broker ${resource.resourceName}; this node is ${NODE_ID}`,
          );
        return configResult(
          RESOURCE_BROKER,
          resource.resourceName,
          brokerConfigs(context),
          resource.configurationKeys,
          documentation,
        );
      }
      return failed(ERROR_CODE.INVALID_REQUEST, `resource type ${resource.resourceType} has no configs here`);
    }),
  );
  return { throttleTimeMs: 0, results };
}

/** Handles DeleteGroups. */
export async function handleDeleteGroups(
  context: ServerContext,
  request: DeleteGroupsRequest,
): Promise<DeleteGroupsResponse> {
  const results = [];
  for (const groupId of request.groupsNames) {
    const known = context.groups.describeGroup(groupId) !== undefined;
    const topics: string[] = await context.broker.committedTopics(groupId).catch(() => []);
    if (!known && topics.length === 0) {
      results.push({ groupId, errorCode: ERROR_CODE.GROUP_ID_NOT_FOUND });
      continue;
    }
    const errorCode = context.groups.deleteGroup(groupId);
    if (errorCode !== ERROR_CODE.NONE) {
      results.push({ groupId, errorCode });
      continue;
    }
    try {
      for (const topic of topics) await context.broker.deleteCommittedOffsets(topic, groupId);
      results.push({ groupId, errorCode: ERROR_CODE.NONE });
    } catch (error) {
      context.onError(error);
      results.push({ groupId, errorCode: brokerErrorCode(error) });
    }
  }
  return { throttleTimeMs: 0, results };
}

/** Handles OffsetDelete. */
export async function handleOffsetDelete(
  context: ServerContext,
  request: OffsetDeleteRequest,
): Promise<OffsetDeleteResponse> {
  const everywhere = (errorCode: number, topLevel: number): OffsetDeleteResponse => ({
    errorCode: topLevel,
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => ({
        partitionIndex: partition.partitionIndex,
        errorCode,
      })),
    })),
  });
  const group = context.groups.describeGroup(request.groupId);
  const committed: string[] = await context.broker.committedTopics(request.groupId).catch(() => []);
  if (group === undefined && committed.length === 0)
    return everywhere(ERROR_CODE.NONE, ERROR_CODE.GROUP_ID_NOT_FOUND);
  if (group !== undefined && group.members.length > 0)
    return everywhere(ERROR_CODE.GROUP_SUBSCRIBED_TO_TOPIC, ERROR_CODE.NONE);
  const topics = await Promise.all(
    request.topics.map(async (topic) => {
      const count = await context.topics.partitions(topic.name);
      const indexes = topic.partitions.map((partition) => partition.partitionIndex);
      const valid = indexes.filter((index) => count !== undefined && index >= 0 && index < count);
      let failure: number = ERROR_CODE.NONE;
      if (valid.length > 0 && committed.includes(topic.name)) {
        try {
          await context.broker.deleteCommittedOffsets(topic.name, request.groupId, valid);
        } catch (error) {
          context.onError(error);
          failure = brokerErrorCode(error);
        }
      }
      return {
        name: topic.name,
        partitions: indexes.map((partitionIndex) => ({
          partitionIndex,
          errorCode: valid.includes(partitionIndex) ? failure : ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION,
        })),
      };
    }),
  );
  return { errorCode: ERROR_CODE.NONE, throttleTimeMs: 0, topics };
}
