/**
 * Maps broker and log failures to Kafka error codes, so a client sees the code its library knows
 * how to handle (retry, refresh metadata, give up) instead of a closed connection.
 */
import { BrokerError } from '@herald/broker';
import { ERROR_CODE } from '@herald/kafka-protocol';
import { isLogError, type LogError } from '@herald/log';
import type { AclResourceType } from './security/acl-store.ts';

function logCause(error: unknown): LogError | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (isLogError(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The Kafka error code for an append (Produce) failure. */
export function appendErrorCode(error: unknown): number {
  const cause = logCause(error);
  switch (cause?.code) {
    case 'LOG_INVALID_BATCH':
    case 'LOG_INVALID_ARGUMENT':
      return ERROR_CODE.CORRUPT_MESSAGE;
    case 'LOG_BATCH_TOO_LARGE':
    case 'LOG_RECORD_TOO_LARGE':
      return ERROR_CODE.MESSAGE_TOO_LARGE;
    case 'LOG_UNSUPPORTED_COMPRESSION':
      return ERROR_CODE.UNSUPPORTED_COMPRESSION_TYPE;
    case 'LOG_QUEUE_FULL':
      return ERROR_CODE.REQUEST_TIMED_OUT;
    case undefined:
      break;
    default:
      return ERROR_CODE.KAFKA_STORAGE_ERROR;
  }
  return brokerErrorCode(error);
}

/** The Kafka error code for a read (Fetch, ListOffsets) failure. */
export function readErrorCode(error: unknown): number {
  const cause = logCause(error);
  if (cause?.code === 'LOG_OFFSET_OUT_OF_RANGE') return ERROR_CODE.OFFSET_OUT_OF_RANGE;
  if (cause !== undefined) return ERROR_CODE.KAFKA_STORAGE_ERROR;
  return brokerErrorCode(error);
}

/** The Kafka error code for a broker error (topic missing, invalid argument...). */
export function brokerErrorCode(error: unknown): number {
  if (error instanceof BrokerError) {
    switch (error.reason) {
      case 'BROKER_TOPIC_NOT_FOUND':
        return ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION;
      case 'BROKER_TOPIC_EXISTS':
        return ERROR_CODE.TOPIC_ALREADY_EXISTS;
      case 'BROKER_INVALID_ARGUMENT':
        return ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION;
      case 'BROKER_STORAGE':
      case 'BROKER_CORRUPT':
        return ERROR_CODE.KAFKA_STORAGE_ERROR;
      default:
        return ERROR_CODE.UNKNOWN_SERVER_ERROR;
    }
  }
  return ERROR_CODE.UNKNOWN_SERVER_ERROR;
}

/** The Kafka error code for a request (or part of one) an ACL denies on a resource of `type`. */
export function deniedErrorCode(type: AclResourceType): number {
  switch (type) {
    case 'topic':
      return ERROR_CODE.TOPIC_AUTHORIZATION_FAILED;
    case 'group':
      return ERROR_CODE.GROUP_AUTHORIZATION_FAILED;
    case 'cluster':
      return ERROR_CODE.CLUSTER_AUTHORIZATION_FAILED;
  }
}
