/**
 * InitProducerId (0-1): hands out producer ids so idempotent producers (librdkafka
 * `enable.idempotence`, kafkajs `idempotent`) can run. Sequences are stored in the batches as sent
 * but not checked: there is no de-duplication yet. Transactional ids are refused.
 */
import { ERROR_CODE, type InitProducerIdRequest, type InitProducerIdResponse } from '@herald/kafka-protocol';

// Ids start from the clock so a restarted server never hands out an id a live producer still uses.
let nextProducerId = BigInt(Date.now()) * 1000n;

/** Handles InitProducerId. */
export function handleInitProducerId(request: InitProducerIdRequest): InitProducerIdResponse {
  if (request.transactionalId !== null) {
    return { throttleTimeMs: 0, errorCode: ERROR_CODE.INVALID_REQUEST, producerId: -1n, producerEpoch: -1 };
  }
  nextProducerId += 1n;
  return { throttleTimeMs: 0, errorCode: ERROR_CODE.NONE, producerId: nextProducerId, producerEpoch: 0 };
}
