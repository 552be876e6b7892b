/**
 * Routes a decoded request to its handler. A handler resolves the response body, or null when no
 * response is sent (Produce with acks=0).
 */
import {
  API_KEY,
  type CreateAclsRequest,
  type CreateTopicsRequest,
  type DeleteAclsRequest,
  type DeleteGroupsRequest,
  type DeleteTopicsRequest,
  type DescribeAclsRequest,
  type DescribeConfigsRequest,
  type DescribeGroupsRequest,
  ERROR_CODE,
  type FetchRequest,
  type FindCoordinatorRequest,
  type HeartbeatRequest,
  type InitProducerIdRequest,
  type JoinGroupRequest,
  type LeaveGroupRequest,
  type ListGroupsRequest,
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
import { handleCreateAcls, handleDeleteAcls, handleDescribeAcls } from './acl-apis.ts';
import { handleDeleteGroups, handleDescribeConfigs, handleOffsetDelete } from './admin.ts';
import { apiVersionsResponse } from './api-versions.ts';
import { handleFetch } from './fetch.ts';
import { handleFindCoordinator } from './find-coordinator.ts';
import { handleDescribeGroups, handleListGroups } from './group-listing.ts';
import { handleHeartbeat, handleJoinGroup, handleLeaveGroup, handleSyncGroup } from './groups.ts';
import { dispatchGuarded } from './guarded.ts';
import { handleInitProducerId } from './init-producer-id.ts';
import { handleListOffsets } from './list-offsets.ts';
import { handleMetadata } from './metadata.ts';
import { handleOffsetCommit, handleOffsetFetch } from './offsets.ts';
import { startProduce } from './produce.ts';
import { handleCreateTopics, handleDeleteTopics } from './topics.ts';

/** Per-connection state a handler may need. */
export interface ConnectionState {
  /** Serializes the start of Produce requests so pipelined appends keep request order per partition. */
  produceGate: Promise<void>;
  /** The client's address as Kafka reports it in DescribeGroups ("/127.0.0.1"). */
  readonly clientHost: string;
  /** `User:<name>` once authenticated, `User:ANONYMOUS` without SASL (what ACLs are checked for). */
  readonly principal: string;
}

async function produce(
  context: ServerContext,
  connection: ConnectionState,
  request: ProduceRequest,
  version: number,
): Promise<object | null> {
  const started = connection.produceGate.then(() => startProduce(context, request, version));
  connection.produceGate = started.then(
    () => {},
    () => {},
  );
  const response = await (await started)();
  return request.acks === 0 ? null : response;
}

/** Runs the handler of `header.apiKey`, with the connection's rights enforced when ACLs are on. */
export function dispatch(
  context: ServerContext,
  connection: ConnectionState,
  header: RequestHeader,
  body: unknown,
): Promise<object | null> {
  const unchecked = (uncheckedHeader: RequestHeader, uncheckedBody: unknown) =>
    dispatchUnchecked(context, connection, uncheckedHeader, uncheckedBody);
  return context.authorizer === undefined
    ? unchecked(header, body)
    : dispatchGuarded(context, context.authorizer, connection.principal, header, body, unchecked);
}

async function dispatchUnchecked(
  context: ServerContext,
  connection: ConnectionState,
  header: RequestHeader,
  body: unknown,
): Promise<object | null> {
  const version = header.apiVersion;
  switch (header.apiKey) {
    case API_KEY.ApiVersions:
      return apiVersionsResponse();
    case API_KEY.Metadata:
      return handleMetadata(context, body as MetadataRequest, version);
    case API_KEY.Produce:
      return produce(context, connection, body as ProduceRequest, version);
    case API_KEY.Fetch:
      return handleFetch(context, body as FetchRequest);
    case API_KEY.ListOffsets:
      return handleListOffsets(context, body as ListOffsetsRequest);
    case API_KEY.FindCoordinator:
      return handleFindCoordinator(context, body as FindCoordinatorRequest, version);
    case API_KEY.JoinGroup:
      return handleJoinGroup(context, body as JoinGroupRequest, header.clientId, connection.clientHost);
    case API_KEY.SyncGroup:
      return handleSyncGroup(context, body as SyncGroupRequest);
    case API_KEY.Heartbeat:
      return handleHeartbeat(context, body as HeartbeatRequest);
    case API_KEY.LeaveGroup:
      return handleLeaveGroup(context, body as LeaveGroupRequest, version);
    case API_KEY.DescribeGroups:
      return handleDescribeGroups(context, body as DescribeGroupsRequest);
    case API_KEY.ListGroups:
      return handleListGroups(context, body as ListGroupsRequest);
    case API_KEY.OffsetCommit:
      return handleOffsetCommit(context, body as OffsetCommitRequest);
    case API_KEY.OffsetFetch:
      return handleOffsetFetch(context, body as OffsetFetchRequest);
    case API_KEY.CreateTopics:
      return handleCreateTopics(context, body as CreateTopicsRequest);
    case API_KEY.DeleteTopics:
      return handleDeleteTopics(context, body as DeleteTopicsRequest);
    case API_KEY.InitProducerId:
      return handleInitProducerId(body as InitProducerIdRequest);
    case API_KEY.DescribeConfigs:
      return handleDescribeConfigs(context, body as DescribeConfigsRequest);
    case API_KEY.DeleteGroups:
      return handleDeleteGroups(context, body as DeleteGroupsRequest);
    case API_KEY.OffsetDelete:
      return handleOffsetDelete(context, body as OffsetDeleteRequest);
    case API_KEY.DescribeAcls:
      return handleDescribeAcls(context.authorizer, connection.principal, body as DescribeAclsRequest);
    case API_KEY.CreateAcls:
      return handleCreateAcls(context.authorizer, connection.principal, body as CreateAclsRequest);
    case API_KEY.DeleteAcls:
      return handleDeleteAcls(context.authorizer, connection.principal, body as DeleteAclsRequest);
    // Only reached on a listener without SASL (see connection.ts): answered as Kafka does there.
    case API_KEY.SaslHandshake:
      return { errorCode: ERROR_CODE.ILLEGAL_SASL_STATE, mechanisms: [] };
    case API_KEY.SaslAuthenticate:
      return {
        errorCode: ERROR_CODE.ILLEGAL_SASL_STATE,
        errorMessage: 'SASL is not enabled on this listener',
        authBytes: new Uint8Array(0),
        sessionLifetimeMs: 0n,
      };
    default:
      throw new Error(`no handler for API key ${header.apiKey}`);
  }
}
