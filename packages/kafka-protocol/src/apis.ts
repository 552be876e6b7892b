/**
 * The APIs this codec implements and the version ranges it advertises, flexible versions
 * (KIP-482) included up to the last version before topic ids or batched groups where Kafka 4 went
 * further (Fetch 13+, OffsetFetch 8+, DeleteTopics 6+). librdkafka 2.0 gates features on single versions, so Produce v0,
 * FindCoordinator v0 and InitProducerId v0 stay inside the ranges (Produce v0-2 are advertised but
 * refused with UNSUPPORTED_FOR_MESSAGE_FORMAT); kafkajs ignores minimum versions, so every version
 * in a range is implemented. Nothing outside this table is advertised.
 */
import { apiVersionsRequest } from './apis/api-versions/request.ts';
import { apiVersionsResponse } from './apis/api-versions/response.ts';
import { createAclsRequest } from './apis/create-acls/request.ts';
import { createAclsResponse } from './apis/create-acls/response.ts';
import { createTopicsRequest } from './apis/create-topics/request.ts';
import { createTopicsResponse } from './apis/create-topics/response.ts';
import { deleteAclsRequest } from './apis/delete-acls/request.ts';
import { deleteAclsResponse } from './apis/delete-acls/response.ts';
import { deleteGroupsRequest } from './apis/delete-groups/request.ts';
import { deleteGroupsResponse } from './apis/delete-groups/response.ts';
import { deleteTopicsRequest } from './apis/delete-topics/request.ts';
import { deleteTopicsResponse } from './apis/delete-topics/response.ts';
import { describeAclsRequest } from './apis/describe-acls/request.ts';
import { describeAclsResponse } from './apis/describe-acls/response.ts';
import { describeConfigsRequest } from './apis/describe-configs/request.ts';
import { describeConfigsResponse } from './apis/describe-configs/response.ts';
import { describeGroupsRequest } from './apis/describe-groups/request.ts';
import { describeGroupsResponse } from './apis/describe-groups/response.ts';
import { fetchRequest } from './apis/fetch/request.ts';
import { fetchResponse } from './apis/fetch/response.ts';
import { findCoordinatorRequest } from './apis/find-coordinator/request.ts';
import { findCoordinatorResponse } from './apis/find-coordinator/response.ts';
import { heartbeatRequest } from './apis/heartbeat/request.ts';
import { heartbeatResponse } from './apis/heartbeat/response.ts';
import { initProducerIdRequest } from './apis/init-producer-id/request.ts';
import { initProducerIdResponse } from './apis/init-producer-id/response.ts';
import { joinGroupRequest } from './apis/join-group/request.ts';
import { joinGroupResponse } from './apis/join-group/response.ts';
import { leaveGroupRequest } from './apis/leave-group/request.ts';
import { leaveGroupResponse } from './apis/leave-group/response.ts';
import { listGroupsRequest } from './apis/list-groups/request.ts';
import { listGroupsResponse } from './apis/list-groups/response.ts';
import { listOffsetsRequest } from './apis/list-offsets/request.ts';
import { listOffsetsResponse } from './apis/list-offsets/response.ts';
import { metadataRequest } from './apis/metadata/request.ts';
import { metadataResponse } from './apis/metadata/response.ts';
import { offsetCommitRequest } from './apis/offset-commit/request.ts';
import { offsetCommitResponse } from './apis/offset-commit/response.ts';
import { offsetDeleteRequest } from './apis/offset-delete/request.ts';
import { offsetDeleteResponse } from './apis/offset-delete/response.ts';
import { offsetFetchRequest } from './apis/offset-fetch/request.ts';
import { offsetFetchResponse } from './apis/offset-fetch/response.ts';
import { produceRequest } from './apis/produce/request.ts';
import { produceResponse } from './apis/produce/response.ts';
import { saslAuthenticateRequest } from './apis/sasl-authenticate/request.ts';
import { saslAuthenticateResponse } from './apis/sasl-authenticate/response.ts';
import { saslHandshakeRequest } from './apis/sasl-handshake/request.ts';
import { saslHandshakeResponse } from './apis/sasl-handshake/response.ts';
import { syncGroupRequest } from './apis/sync-group/request.ts';
import { syncGroupResponse } from './apis/sync-group/response.ts';
import type { MessageSchema } from './schema.ts';

/** Kafka API keys of the implemented APIs. */
export const API_KEY = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  SaslHandshake: 17,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  InitProducerId: 22,
  DescribeAcls: 29,
  CreateAcls: 30,
  DeleteAcls: 31,
  DescribeConfigs: 32,
  SaslAuthenticate: 36,
  DeleteGroups: 42,
  OffsetDelete: 47,
} as const;

/** A name of {@link API_KEY}. */
export type ApiName = keyof typeof API_KEY;

/** One implemented API. */
export interface ApiDefinition {
  readonly apiKey: number;
  readonly name: ApiName;
  /** Lowest advertised version (inclusive). */
  readonly versionMin: number;
  /** Highest advertised version (inclusive). */
  readonly versionMax: number;
  readonly request: MessageSchema;
  readonly response: MessageSchema;
}

function api(
  name: ApiName,
  versionMin: number,
  versionMax: number,
  request: MessageSchema,
  response: MessageSchema,
): ApiDefinition {
  return { apiKey: API_KEY[name], name, versionMin, versionMax, request, response };
}

/** Every implemented API with its advertised range, by API key. */
export const APIS: readonly ApiDefinition[] = [
  api('Produce', 0, 11, produceRequest, produceResponse),
  api('Fetch', 4, 12, fetchRequest, fetchResponse),
  api('ListOffsets', 1, 6, listOffsetsRequest, listOffsetsResponse),
  api('Metadata', 0, 12, metadataRequest, metadataResponse),
  api('OffsetCommit', 2, 9, offsetCommitRequest, offsetCommitResponse),
  api('OffsetFetch', 1, 7, offsetFetchRequest, offsetFetchResponse),
  api('FindCoordinator', 0, 6, findCoordinatorRequest, findCoordinatorResponse),
  api('JoinGroup', 2, 9, joinGroupRequest, joinGroupResponse),
  api('Heartbeat', 0, 4, heartbeatRequest, heartbeatResponse),
  api('LeaveGroup', 0, 5, leaveGroupRequest, leaveGroupResponse),
  api('SyncGroup', 0, 5, syncGroupRequest, syncGroupResponse),
  api('DescribeGroups', 0, 5, describeGroupsRequest, describeGroupsResponse),
  api('ListGroups', 0, 5, listGroupsRequest, listGroupsResponse),
  api('SaslHandshake', 0, 1, saslHandshakeRequest, saslHandshakeResponse),
  api('ApiVersions', 0, 4, apiVersionsRequest, apiVersionsResponse),
  api('CreateTopics', 2, 7, createTopicsRequest, createTopicsResponse),
  api('DeleteTopics', 1, 5, deleteTopicsRequest, deleteTopicsResponse),
  api('InitProducerId', 0, 4, initProducerIdRequest, initProducerIdResponse),
  // Codecs generated from Kafka's JSON definitions (scripts/kafka-codegen.ts); v4 and v2 are flexible.
  api('DescribeConfigs', 1, 4, describeConfigsRequest, describeConfigsResponse),
  api('SaslAuthenticate', 0, 2, saslAuthenticateRequest, saslAuthenticateResponse),
  api('DeleteGroups', 1, 2, deleteGroupsRequest, deleteGroupsResponse),
  api('OffsetDelete', 0, 0, offsetDeleteRequest, offsetDeleteResponse),
  // Generated from Kafka's JSON definitions; v0 (no pattern type) is not served, v2+ are flexible.
  api('DescribeAcls', 1, 3, describeAclsRequest, describeAclsResponse),
  api('CreateAcls', 1, 3, createAclsRequest, createAclsResponse),
  api('DeleteAcls', 1, 3, deleteAclsRequest, deleteAclsResponse),
];

const byKey = new Map(APIS.map((definition) => [definition.apiKey, definition]));

/** The implemented API with `apiKey`, or undefined. */
export function findApi(apiKey: number): ApiDefinition | undefined {
  return byKey.get(apiKey);
}

/** True when `version` of `definition` uses flexible encoding (request header v2, response header v1). */
export function isFlexible(definition: ApiDefinition, version: number): boolean {
  return version >= definition.request.flexibleFrom;
}
