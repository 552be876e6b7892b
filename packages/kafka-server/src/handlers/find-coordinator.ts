/**
 * FindCoordinator (0-6; flexible from 3, batched keys from 4): this node coordinates every group;
 * transactions are not implemented.
 */
import {
  ERROR_CODE,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
} from '@herald/kafka-protocol';
import { NODE_ID, type ServerContext } from '../context.ts';

const KEY_TYPE_GROUP = 0;

/** Handles FindCoordinator. */
export function handleFindCoordinator(
  context: ServerContext,
  request: FindCoordinatorRequest,
  version = 0,
): FindCoordinatorResponse {
  if (version >= 4) {
    const group = request.keyType === KEY_TYPE_GROUP;
    return {
      throttleTimeMs: 0,
      errorCode: ERROR_CODE.NONE,
      nodeId: -1,
      host: '',
      port: -1,
      coordinators: (request.coordinatorKeys ?? []).map((key) => ({
        key,
        nodeId: group ? NODE_ID : -1,
        host: group ? context.advertisedHost : '',
        port: group ? context.advertisedPort : -1,
        errorCode: group ? ERROR_CODE.NONE : ERROR_CODE.COORDINATOR_NOT_AVAILABLE,
        errorMessage: group ? null : 'transactions are not implemented by this server',
      })),
    };
  }
  if (request.keyType !== KEY_TYPE_GROUP) {
    return {
      throttleTimeMs: 0,
      errorCode: ERROR_CODE.COORDINATOR_NOT_AVAILABLE,
      errorMessage: 'transactions are not implemented by this server',
      nodeId: -1,
      host: '',
      port: -1,
    };
  }
  return {
    throttleTimeMs: 0,
    errorCode: ERROR_CODE.NONE,
    errorMessage: null,
    nodeId: NODE_ID,
    host: context.advertisedHost,
    port: context.advertisedPort,
  };
}
