/**
 * Dispatch with ACLs: checks the principal's rights before (and around) each handler, see
 * `authorization.ts` for which operation each API needs. APIs that need no right here
 * (ApiVersions, FindCoordinator, InitProducerId without transactions, SASL) go straight through.
 */
import {
  API_KEY,
  type CreateTopicsRequest,
  type DeleteGroupsRequest,
  type DeleteTopicsRequest,
  type DescribeConfigsRequest,
  type DescribeConfigsResponse,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
  type FetchRequest,
  type HeartbeatRequest,
  type JoinGroupRequest,
  type LeaveGroupRequest,
  type ListGroupsRequest,
  type ListGroupsResponse,
  type ListOffsetsRequest,
  type MetadataRequest,
  type OffsetCommitRequest,
  type OffsetDeleteRequest,
  type OffsetFetchRequest,
  type ProduceRequest,
  type RequestHeader,
  type SyncGroupRequest,
} from '@herald/kafka-protocol';
import type { ServerContext } from '../context.ts';
import { deniedErrorCode } from '../error-mapping.ts';
import type { Authorizer } from '../security/authorizer.ts';
import { handleDescribeConfigs } from './admin.ts';
import {
  authorizeCreateTopics,
  authorizeDeleteTopics,
  authorizeFetch,
  authorizeListOffsets,
  authorizeMetadata,
  authorizeOffsetCommit,
  authorizeOffsetFetch,
  authorizeProduce,
  mayGroup,
  type Requester,
} from './authorization.ts';
import { handleFetch } from './fetch.ts';
import { handleDescribeGroups, handleListGroups } from './group-listing.ts';
import { handleListOffsets } from './list-offsets.ts';
import { handleMetadata } from './metadata.ts';
import { handleOffsetCommit, handleOffsetFetch } from './offsets.ts';
import { handleCreateTopics, handleDeleteTopics } from './topics.ts';

/** DescribeConfigs resource types (Kafka's ConfigResource.Type). */
const CONFIG_RESOURCE_TOPIC = 2;
/** Kafka's "authorised operations not requested" value. */
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

type Dispatch = (header: RequestHeader, body: unknown) => Promise<object | null>;

/** The answer of a group API refused as a whole, or undefined when the principal may proceed. */
function refusedGroupRequest(requester: Requester, apiKey: number, body: unknown): object | undefined {
  const denied = deniedErrorCode('group');
  switch (apiKey) {
    case API_KEY.JoinGroup: {
      const request = body as JoinGroupRequest;
      if (mayGroup(requester, 'read', request.groupId)) return undefined;
      return {
        throttleTimeMs: 0,
        errorCode: denied,
        generationId: -1,
        protocolType: null,
        protocolName: '',
        leader: '',
        memberId: request.memberId,
        members: [],
      };
    }
    case API_KEY.SyncGroup:
      if (mayGroup(requester, 'read', (body as SyncGroupRequest).groupId)) return undefined;
      return {
        throttleTimeMs: 0,
        errorCode: denied,
        protocolType: null,
        protocolName: null,
        assignment: new Uint8Array(0),
      };
    case API_KEY.Heartbeat:
      return mayGroup(requester, 'read', (body as HeartbeatRequest).groupId)
        ? undefined
        : { throttleTimeMs: 0, errorCode: denied };
    case API_KEY.LeaveGroup:
      return mayGroup(requester, 'read', (body as LeaveGroupRequest).groupId)
        ? undefined
        : { throttleTimeMs: 0, errorCode: denied, members: [] };
    case API_KEY.OffsetDelete:
      return mayGroup(requester, 'delete', (body as OffsetDeleteRequest).groupId)
        ? undefined
        : { errorCode: denied, throttleTimeMs: 0, topics: [] };
    default:
      return undefined;
  }
}

async function describeGroups(
  requester: Requester,
  context: ServerContext,
  request: DescribeGroupsRequest,
): Promise<DescribeGroupsResponse> {
  const allowed = request.groups.filter((group) => mayGroup(requester, 'describe', group));
  const served = await handleDescribeGroups(context, { ...request, groups: allowed });
  const byId = new Map(served.groups.map((group) => [group.groupId, group]));
  return {
    ...served,
    groups: request.groups.map(
      (groupId) =>
        byId.get(groupId) ?? {
          errorCode: deniedErrorCode('group'),
          groupId,
          groupState: '',
          protocolType: '',
          protocolData: '',
          members: [],
          authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
        },
    ),
  };
}

async function listGroups(
  requester: Requester,
  context: ServerContext,
  request: ListGroupsRequest,
): Promise<ListGroupsResponse> {
  const served = await handleListGroups(context, request);
  if (requester.authorizer.authorizeCluster(requester.principal, 'describe')) return served;
  return {
    ...served,
    groups: served.groups.filter((group) => mayGroup(requester, 'describe', group.groupId)),
  };
}

async function describeConfigs(
  requester: Requester,
  context: ServerContext,
  request: DescribeConfigsRequest,
): Promise<DescribeConfigsResponse> {
  const { principal, authorizer } = requester;
  const may = (resource: DescribeConfigsRequest['resources'][number]) =>
    resource.resourceType === CONFIG_RESOURCE_TOPIC
      ? authorizer.authorize(principal, 'describe', 'topic', resource.resourceName)
      : authorizer.authorizeCluster(principal, 'describe');
  const allowed = request.resources.filter(may);
  const served = await handleDescribeConfigs(context, { ...request, resources: allowed });
  const refused = request.resources
    .filter((resource) => !allowed.includes(resource))
    .map((resource) => ({
      errorCode:
        resource.resourceType === CONFIG_RESOURCE_TOPIC
          ? deniedErrorCode('topic')
          : deniedErrorCode('cluster'),
      errorMessage: 'not authorised; ask an operator for an ACL (herald acls add)',
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
      configs: [],
    }));
  return { ...served, results: [...served.results, ...refused] };
}

/** Runs `header.apiKey`'s handler (through `unchecked`) with `principal`'s rights enforced. */
export async function dispatchGuarded(
  context: ServerContext,
  authorizer: Authorizer,
  principal: string,
  header: RequestHeader,
  body: unknown,
  unchecked: Dispatch,
): Promise<object | null> {
  await authorizer.refresh();
  const requester: Requester = { principal, authorizer };
  const version = header.apiVersion;
  switch (header.apiKey) {
    case API_KEY.Produce:
      return authorizeProduce(requester, body as ProduceRequest, (request) => unchecked(header, request));
    case API_KEY.Fetch:
      return authorizeFetch(requester, body as FetchRequest, (request) => handleFetch(context, request));
    case API_KEY.ListOffsets:
      return authorizeListOffsets(requester, body as ListOffsetsRequest, (request) =>
        handleListOffsets(context, request),
      );
    case API_KEY.Metadata:
      return authorizeMetadata(requester, context, body as MetadataRequest, (scope, request) =>
        handleMetadata(scope, request, version),
      );
    case API_KEY.CreateTopics:
      return authorizeCreateTopics(requester, body as CreateTopicsRequest, (request) =>
        handleCreateTopics(context, request),
      );
    case API_KEY.DeleteTopics:
      return authorizeDeleteTopics(requester, body as DeleteTopicsRequest, (request) =>
        handleDeleteTopics(context, request),
      );
    case API_KEY.OffsetCommit:
      return authorizeOffsetCommit(requester, body as OffsetCommitRequest, (request) =>
        handleOffsetCommit(context, request),
      );
    case API_KEY.OffsetFetch:
      return authorizeOffsetFetch(requester, body as OffsetFetchRequest, (request) =>
        handleOffsetFetch(context, request),
      );
    case API_KEY.DescribeGroups:
      return describeGroups(requester, context, body as DescribeGroupsRequest);
    case API_KEY.ListGroups:
      return listGroups(requester, context, body as ListGroupsRequest);
    case API_KEY.DescribeConfigs:
      return describeConfigs(requester, context, body as DescribeConfigsRequest);
    case API_KEY.DeleteGroups: {
      const request = body as DeleteGroupsRequest;
      const allowed = request.groupsNames.filter((group) => mayGroup(requester, 'delete', group));
      const served = (await unchecked(header, { groupsNames: allowed })) as {
        throttleTimeMs: number;
        results: { groupId: string; errorCode: number }[];
      };
      const refused = request.groupsNames
        .filter((group) => !allowed.includes(group))
        .map((groupId) => ({ groupId, errorCode: deniedErrorCode('group') }));
      return { ...served, results: [...served.results, ...refused] };
    }
    default:
      return refusedGroupRequest(requester, header.apiKey, body) ?? unchecked(header, body);
  }
}
