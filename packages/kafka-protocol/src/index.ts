/**
 * `@herald/kafka-protocol`: Kafka wire-protocol codecs for a single-node broker. Primitive
 * readers and writers (every length checked against the frame before allocating), request and
 * response framing, the implemented APIs and versions (see `docs/kafka-api-status.md`), and the
 * Kafka error-code table.
 */
export type { ApiVersionsRequest } from './apis/api-versions/request.ts';
export type { ApiVersionRange, ApiVersionsResponse } from './apis/api-versions/response.ts';
export type { CreateAclsRequest } from './apis/create-acls/request.ts';
export type { CreateAclsResponse } from './apis/create-acls/response.ts';
export type { CreatableTopic, CreateTopicsRequest } from './apis/create-topics/request.ts';
export type { CreateTopicsResponse } from './apis/create-topics/response.ts';
export type { DeleteAclsRequest } from './apis/delete-acls/request.ts';
export type { DeleteAclsResponse } from './apis/delete-acls/response.ts';
export type { DeleteGroupsRequest } from './apis/delete-groups/request.ts';
export type { DeleteGroupsResponse } from './apis/delete-groups/response.ts';
export type { DeleteTopicsRequest } from './apis/delete-topics/request.ts';
export type { DeleteTopicsResponse } from './apis/delete-topics/response.ts';
export type { DescribeAclsRequest } from './apis/describe-acls/request.ts';
export type { DescribeAclsResponse } from './apis/describe-acls/response.ts';
export type { DescribeConfigsRequest } from './apis/describe-configs/request.ts';
export type { DescribeConfigsResponse } from './apis/describe-configs/response.ts';
export type { DescribeGroupsRequest } from './apis/describe-groups/request.ts';
export {
  AUTHORIZED_OPERATIONS_OMITTED,
  type DescribedGroup,
  type DescribedGroupMember,
  type DescribeGroupsResponse,
} from './apis/describe-groups/response.ts';
export type { FetchPartition, FetchRequest } from './apis/fetch/request.ts';
export type { FetchPartitionResponse, FetchResponse } from './apis/fetch/response.ts';
export type { FindCoordinatorRequest } from './apis/find-coordinator/request.ts';
export type { FindCoordinatorResponse } from './apis/find-coordinator/response.ts';
export type { HeartbeatRequest } from './apis/heartbeat/request.ts';
export type { HeartbeatResponse } from './apis/heartbeat/response.ts';
export type { InitProducerIdRequest } from './apis/init-producer-id/request.ts';
export type { InitProducerIdResponse } from './apis/init-producer-id/response.ts';
export type { JoinGroupRequest } from './apis/join-group/request.ts';
export type { JoinGroupMember, JoinGroupResponse } from './apis/join-group/response.ts';
export type { LeaveGroupRequest } from './apis/leave-group/request.ts';
export type { LeaveGroupResponse } from './apis/leave-group/response.ts';
export type { ListGroupsRequest } from './apis/list-groups/request.ts';
export type { ListedGroup, ListGroupsResponse } from './apis/list-groups/response.ts';
export {
  LIST_OFFSETS_EARLIEST,
  LIST_OFFSETS_LATEST,
  type ListOffsetsRequest,
} from './apis/list-offsets/request.ts';
export type { ListOffsetsResponse } from './apis/list-offsets/response.ts';
export type { MetadataRequest } from './apis/metadata/request.ts';
export type {
  MetadataBroker,
  MetadataPartition,
  MetadataResponse,
  MetadataTopic,
} from './apis/metadata/response.ts';
export type { OffsetCommitPartition, OffsetCommitRequest } from './apis/offset-commit/request.ts';
export type { OffsetCommitResponse } from './apis/offset-commit/response.ts';
export type { OffsetDeleteRequest } from './apis/offset-delete/request.ts';
export type { OffsetDeleteResponse } from './apis/offset-delete/response.ts';
export type { OffsetFetchRequest } from './apis/offset-fetch/request.ts';
export type { OffsetFetchPartition, OffsetFetchResponse } from './apis/offset-fetch/response.ts';
export type { ProducePartitionData, ProduceRequest } from './apis/produce/request.ts';
export type { ProducePartitionResponse, ProduceResponse } from './apis/produce/response.ts';
export type { SaslAuthenticateRequest } from './apis/sasl-authenticate/request.ts';
export type { SaslAuthenticateResponse } from './apis/sasl-authenticate/response.ts';
export type { SaslHandshakeRequest } from './apis/sasl-handshake/request.ts';
export type { SaslHandshakeResponse } from './apis/sasl-handshake/response.ts';
export type { SyncGroupRequest } from './apis/sync-group/request.ts';
export type { SyncGroupResponse } from './apis/sync-group/response.ts';
export { API_KEY, APIS, type ApiDefinition, type ApiName, findApi, isFlexible } from './apis.ts';
export {
  ERROR_CODE,
  errorCodeInfo,
  KAFKA_ERROR_CODES,
  type KafkaErrorCode,
  type KafkaErrorName,
} from './error-codes.ts';
export {
  isKafkaProtocolError,
  KAFKA_PROTOCOL_ERROR_CODES,
  KafkaProtocolError,
  type KafkaProtocolErrorCode,
} from './errors.ts';
export {
  type DecodedRequest,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  REQUEST_HEADER_BYTES_MIN,
  type RequestHeader,
} from './frame.ts';
export { ELEMENTS_PER_FRAME_MAX, Reader } from './reader.ts';
export {
  array,
  decodeMessage,
  encodeMessage,
  type Field,
  type FieldOptions,
  field,
  type MessageSchema,
  type PrimitiveType,
  type RecordsValue,
  type VersionRange,
  versions,
} from './schema.ts';
export { Writer } from './writer.ts';
