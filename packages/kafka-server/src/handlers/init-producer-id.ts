/**
 * InitProducerId (0-4; flexible from 2): hands out producer ids so idempotent producers (librdkafka
 * `enable.idempotence`, kafkajs `idempotent`) can run. Sequences are stored in the batches as sent
 * and checked by `producer-state.ts`. From v3 a producer may ask to bump the epoch of its id
 * (KIP-360, after a sequence error); it gets the next epoch of the same id. Transactional ids are
 * refused.
 */
import { ERROR_CODE, type InitProducerIdRequest, type InitProducerIdResponse } from '@herald/kafka-protocol';

/** Epochs are int16; a producer at the last one gets a new id. */
const EPOCH_MAX = 32_767;
// Ids start from the clock so a restarted server never hands out an id a live producer still uses.
let nextProducerId = BigInt(Date.now()) * 1000n;

/** Handles InitProducerId. */
export function handleInitProducerId(request: InitProducerIdRequest): InitProducerIdResponse {
  if (request.transactionalId !== null) {
    return { throttleTimeMs: 0, errorCode: ERROR_CODE.INVALID_REQUEST, producerId: -1n, producerEpoch: -1 };
  }
  // KIP-360 (v3+): a producer that knows its id asks for the next epoch of it, and keeps its id.
  const producerId = request.producerId ?? -1n;
  const producerEpoch = request.producerEpoch ?? -1;
  if (producerId >= 0n && producerEpoch >= 0 && producerEpoch < EPOCH_MAX) {
    return { throttleTimeMs: 0, errorCode: ERROR_CODE.NONE, producerId, producerEpoch: producerEpoch + 1 };
  }
  nextProducerId += 1n;
  return { throttleTimeMs: 0, errorCode: ERROR_CODE.NONE, producerId: nextProducerId, producerEpoch: 0 };
}
