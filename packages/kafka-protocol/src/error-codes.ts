/**
 * The Kafka error-code table: every code this server sends or a client may meet, with its name,
 * whether Kafka classes it retriable, and a short meaning (paraphrased from Kafka's `Errors.java`).
 * `ERROR_CODE.NAME` is the number to put in an `error_code` field; `errorCodeInfo(code)` looks one up.
 */

/** One row of the table. */
export interface KafkaErrorCode {
  readonly code: number;
  readonly name: string;
  readonly retriable: boolean;
  readonly message: string;
}

/** Every known code, ascending. */
export const KAFKA_ERROR_CODES: readonly KafkaErrorCode[] = [
  {
    code: -1,
    name: 'UNKNOWN_SERVER_ERROR',
    retriable: false,
    message: 'An unexpected error occurred on the server while processing the request.',
  },
  { code: 0, name: 'NONE', retriable: false, message: 'No error.' },
  {
    code: 1,
    name: 'OFFSET_OUT_OF_RANGE',
    retriable: false,
    message: 'The requested offset is not within the range of offsets the server holds for the partition.',
  },
  {
    code: 2,
    name: 'CORRUPT_MESSAGE',
    retriable: true,
    message:
      'A record batch failed its CRC check, has an invalid size, has a null key on a compacted topic, or is otherwise corrupt.',
  },
  {
    code: 3,
    name: 'UNKNOWN_TOPIC_OR_PARTITION',
    retriable: true,
    message:
      'This broker does not host this topic-partition (also the answer for a topic that does not exist).',
  },
  {
    code: 4,
    name: 'INVALID_FETCH_SIZE',
    retriable: false,
    message: 'The fetch size in the request is invalid.',
  },
  {
    code: 5,
    name: 'LEADER_NOT_AVAILABLE',
    retriable: true,
    message: 'The partition has no leader at the moment because a leader election is in progress.',
  },
  {
    code: 6,
    name: 'NOT_LEADER_OR_FOLLOWER',
    retriable: true,
    message:
      'This broker is not the leader (for leader-only requests) or not a replica (for any-replica requests) of the partition.',
  },
  { code: 7, name: 'REQUEST_TIMED_OUT', retriable: true, message: 'The request timed out on the broker.' },
  { code: 8, name: 'BROKER_NOT_AVAILABLE', retriable: false, message: 'The broker is not available.' },
  {
    code: 10,
    name: 'MESSAGE_TOO_LARGE',
    retriable: false,
    message: 'A message or batch is larger than the maximum message size the broker accepts.',
  },
  {
    code: 12,
    name: 'OFFSET_METADATA_TOO_LARGE',
    retriable: false,
    message: 'The metadata string of an offset commit is too large.',
  },
  {
    code: 13,
    name: 'NETWORK_EXCEPTION',
    retriable: true,
    message: 'The server disconnected before a response was received.',
  },
  {
    code: 14,
    name: 'COORDINATOR_LOAD_IN_PROGRESS',
    retriable: true,
    message: 'The coordinator is still loading its state and cannot serve the request yet.',
  },
  {
    code: 15,
    name: 'COORDINATOR_NOT_AVAILABLE',
    retriable: true,
    message: 'The coordinator is not available.',
  },
  {
    code: 16,
    name: 'NOT_COORDINATOR',
    retriable: true,
    message: 'This broker is not the coordinator for the given group or transactional id.',
  },
  {
    code: 17,
    name: 'INVALID_TOPIC_EXCEPTION',
    retriable: false,
    message: 'The request tried to perform an operation on an invalid topic.',
  },
  {
    code: 18,
    name: 'RECORD_LIST_TOO_LARGE',
    retriable: false,
    message: 'A message batch is larger than the configured log segment size.',
  },
  {
    code: 19,
    name: 'NOT_ENOUGH_REPLICAS',
    retriable: true,
    message: 'Records rejected because fewer in-sync replicas than required (min.insync.replicas).',
  },
  {
    code: 21,
    name: 'INVALID_REQUIRED_ACKS',
    retriable: false,
    message: 'The Produce request has an invalid acks value.',
  },
  {
    code: 22,
    name: 'ILLEGAL_GENERATION',
    retriable: false,
    message: 'The group generation id in the request is not the current one.',
  },
  {
    code: 23,
    name: 'INCONSISTENT_GROUP_PROTOCOL',
    retriable: false,
    message:
      "The member's protocol type/protocols do not match the group's, or the first member joined with an empty protocol type or list.",
  },
  { code: 24, name: 'INVALID_GROUP_ID', retriable: false, message: 'The group id is invalid.' },
  {
    code: 25,
    name: 'UNKNOWN_MEMBER_ID',
    retriable: false,
    message: 'The coordinator does not know this member id.',
  },
  {
    code: 26,
    name: 'INVALID_SESSION_TIMEOUT',
    retriable: false,
    message: 'The session timeout is outside the range the broker allows (group.min/max.session.timeout.ms).',
  },
  {
    code: 27,
    name: 'REBALANCE_IN_PROGRESS',
    retriable: false,
    message: 'The group is rebalancing; the member must rejoin.',
  },
  {
    code: 28,
    name: 'INVALID_COMMIT_OFFSET_SIZE',
    retriable: false,
    message: 'The offset commit data size is not valid.',
  },
  {
    code: 29,
    name: 'TOPIC_AUTHORIZATION_FAILED',
    retriable: false,
    message: 'The principal is not authorized for the topic.',
  },
  {
    code: 30,
    name: 'GROUP_AUTHORIZATION_FAILED',
    retriable: false,
    message: 'The principal is not authorized for the group.',
  },
  {
    code: 31,
    name: 'CLUSTER_AUTHORIZATION_FAILED',
    retriable: false,
    message: 'The principal is not authorized for the cluster resource.',
  },
  {
    code: 32,
    name: 'INVALID_TIMESTAMP',
    retriable: false,
    message: 'A record timestamp is outside the acceptable range.',
  },
  {
    code: 33,
    name: 'UNSUPPORTED_SASL_MECHANISM',
    retriable: false,
    message: 'The broker does not support the requested SASL mechanism.',
  },
  {
    code: 34,
    name: 'ILLEGAL_SASL_STATE',
    retriable: false,
    message: 'The request is not valid in the current SASL state.',
  },
  {
    code: 35,
    name: 'UNSUPPORTED_VERSION',
    retriable: false,
    message: 'The API version in the request is not supported by the broker.',
  },
  {
    code: 36,
    name: 'TOPIC_ALREADY_EXISTS',
    retriable: false,
    message: 'A topic with this name already exists.',
  },
  {
    code: 37,
    name: 'INVALID_PARTITIONS',
    retriable: false,
    message: 'The number of partitions is invalid (below 1).',
  },
  {
    code: 38,
    name: 'INVALID_REPLICATION_FACTOR',
    retriable: false,
    message: 'The replication factor is below 1 or larger than the number of available brokers.',
  },
  { code: 40, name: 'INVALID_CONFIG', retriable: false, message: 'A configuration value is invalid.' },
  {
    code: 42,
    name: 'INVALID_REQUEST',
    retriable: false,
    message: 'The request is malformed or was sent to an incompatible broker.',
  },
  {
    code: 43,
    name: 'UNSUPPORTED_FOR_MESSAGE_FORMAT',
    retriable: false,
    message: "The broker's message format version does not support the request.",
  },
  {
    code: 44,
    name: 'POLICY_VIOLATION',
    retriable: false,
    message: 'The request parameters violate a configured policy.',
  },
  {
    code: 45,
    name: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
    retriable: false,
    message: 'The broker received a producer sequence number out of order (a gap).',
  },
  {
    code: 46,
    name: 'DUPLICATE_SEQUENCE_NUMBER',
    retriable: false,
    message: 'The broker received a duplicate producer sequence number.',
  },
  {
    code: 47,
    name: 'INVALID_PRODUCER_EPOCH',
    retriable: false,
    message: 'The producer used an old (fenced) producer epoch.',
  },
  {
    code: 48,
    name: 'INVALID_TXN_STATE',
    retriable: false,
    message: 'The producer attempted a transactional operation in an invalid state.',
  },
  {
    code: 51,
    name: 'CONCURRENT_TRANSACTIONS',
    retriable: true,
    message: 'Another operation on the same transaction is in progress.',
  },
  { code: 54, name: 'SECURITY_DISABLED', retriable: false, message: 'Security features are disabled.' },
  {
    code: 56,
    name: 'KAFKA_STORAGE_ERROR',
    retriable: true,
    message: 'A disk error occurred when accessing the log.',
  },
  { code: 58, name: 'SASL_AUTHENTICATION_FAILED', retriable: false, message: 'SASL authentication failed.' },
  {
    code: 59,
    name: 'UNKNOWN_PRODUCER_ID',
    retriable: false,
    message:
      "The broker has no metadata for the producer id (e.g. the producer's records were removed by retention).",
  },
  {
    code: 68,
    name: 'NON_EMPTY_GROUP',
    retriable: false,
    message: 'The group is not empty (e.g. a DeleteGroups on a group that still has members).',
  },
  { code: 69, name: 'GROUP_ID_NOT_FOUND', retriable: false, message: 'The group id does not exist.' },
  {
    code: 70,
    name: 'FETCH_SESSION_ID_NOT_FOUND',
    retriable: true,
    message: 'The fetch session id was not found.',
  },
  {
    code: 71,
    name: 'INVALID_FETCH_SESSION_EPOCH',
    retriable: true,
    message: 'The fetch session epoch is invalid.',
  },
  {
    code: 74,
    name: 'FENCED_LEADER_EPOCH',
    retriable: true,
    message: "The leader epoch in the request is older than the broker's.",
  },
  {
    code: 75,
    name: 'UNKNOWN_LEADER_EPOCH',
    retriable: true,
    message: "The leader epoch in the request is newer than the broker's.",
  },
  {
    code: 76,
    name: 'UNSUPPORTED_COMPRESSION_TYPE',
    retriable: false,
    message: 'The requesting client does not support the compression type of the partition.',
  },
  {
    code: 78,
    name: 'OFFSET_NOT_AVAILABLE',
    retriable: true,
    message: 'The leader high watermark has not caught up after an election, so offsets cannot be given yet.',
  },
  {
    code: 79,
    name: 'MEMBER_ID_REQUIRED',
    retriable: false,
    message:
      'The member must have a valid member id before entering the group (rejoin with the id returned in the JoinGroup response).',
  },
  {
    code: 81,
    name: 'GROUP_MAX_SIZE_REACHED',
    retriable: false,
    message: 'The consumer group has reached its maximum size.',
  },
  {
    code: 82,
    name: 'FENCED_INSTANCE_ID',
    retriable: false,
    message: 'Another consumer with the same group.instance.id registered with a different member id.',
  },
  {
    code: 86,
    name: 'GROUP_SUBSCRIBED_TO_TOPIC',
    retriable: false,
    message: 'Cannot delete offsets of a topic the group is actively subscribed to.',
  },
  {
    code: 87,
    name: 'INVALID_RECORD',
    retriable: false,
    message: 'A record failed broker-side validation and was rejected.',
  },
  {
    code: 88,
    name: 'UNSTABLE_OFFSET_COMMIT',
    retriable: true,
    message: 'There are pending transactional offsets that must be resolved first.',
  },
  {
    code: 90,
    name: 'PRODUCER_FENCED',
    retriable: false,
    message: 'A newer producer with the same transactional id fenced this one.',
  },
  {
    code: 100,
    name: 'UNKNOWN_TOPIC_ID',
    retriable: true,
    message: 'This broker does not host this topic id.',
  },
  {
    code: 120,
    name: 'TRANSACTION_ABORTABLE',
    retriable: false,
    message: 'The transaction hit an error; the client can abort it and continue using the transactional id.',
  },
];

/** Error codes by name, for `error_code` fields. */
export const ERROR_CODE = {
  UNKNOWN_SERVER_ERROR: -1,
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_FETCH_SIZE: 4,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  BROKER_NOT_AVAILABLE: 8,
  MESSAGE_TOO_LARGE: 10,
  OFFSET_METADATA_TOO_LARGE: 12,
  NETWORK_EXCEPTION: 13,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  INVALID_TOPIC_EXCEPTION: 17,
  RECORD_LIST_TOO_LARGE: 18,
  NOT_ENOUGH_REPLICAS: 19,
  INVALID_REQUIRED_ACKS: 21,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  INVALID_COMMIT_OFFSET_SIZE: 28,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_SASL_MECHANISM: 33,
  ILLEGAL_SASL_STATE: 34,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_CONFIG: 40,
  INVALID_REQUEST: 42,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  POLICY_VIOLATION: 44,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  DUPLICATE_SEQUENCE_NUMBER: 46,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_TXN_STATE: 48,
  CONCURRENT_TRANSACTIONS: 51,
  SECURITY_DISABLED: 54,
  KAFKA_STORAGE_ERROR: 56,
  SASL_AUTHENTICATION_FAILED: 58,
  UNKNOWN_PRODUCER_ID: 59,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  FETCH_SESSION_ID_NOT_FOUND: 70,
  INVALID_FETCH_SESSION_EPOCH: 71,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  OFFSET_NOT_AVAILABLE: 78,
  MEMBER_ID_REQUIRED: 79,
  GROUP_MAX_SIZE_REACHED: 81,
  FENCED_INSTANCE_ID: 82,
  GROUP_SUBSCRIBED_TO_TOPIC: 86,
  INVALID_RECORD: 87,
  UNSTABLE_OFFSET_COMMIT: 88,
  PRODUCER_FENCED: 90,
  UNKNOWN_TOPIC_ID: 100,
  TRANSACTION_ABORTABLE: 120,
} as const;

/** A name of {@link ERROR_CODE}. */
export type KafkaErrorName = keyof typeof ERROR_CODE;

const byCode = new Map(KAFKA_ERROR_CODES.map((entry) => [entry.code, entry]));

/** The table row for `code`, or undefined for a code this table does not list. */
export function errorCodeInfo(code: number): KafkaErrorCode | undefined {
  return byCode.get(code);
}
