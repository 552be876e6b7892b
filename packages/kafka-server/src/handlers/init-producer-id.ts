/**
 * InitProducerId (0-4; flexible from 2): hands out producer ids so idempotent producers (librdkafka
 * `enable.idempotence`, kafkajs `idempotent`) can run. Sequences are stored in the batches as sent
 * and checked by `producer-state.ts`. Every request gets a new id at epoch 0, whatever id and epoch
 * it names (v3+), as Kafka answers producers without a transactional id; transactional ids are
 * refused.
 */
import { ERROR_CODE, type InitProducerIdRequest, type InitProducerIdResponse } from '@herald/kafka-protocol';

// Ids start from the clock so a restarted server never hands out an id a live producer still uses.
let nextProducerId = BigInt(Date.now()) * 1000n;

/** Handles InitProducerId. */
export function handleInitProducerId(request: InitProducerIdRequest): InitProducerIdResponse {
  const refuse = {
    throttleTimeMs: 0,
    errorCode: ERROR_CODE.INVALID_REQUEST,
    producerId: -1n,
    producerEpoch: -1,
  };
  if (request.transactionalId !== null) return refuse;
  // As Kafka: an id without an epoch (or the reverse) is INVALID_REQUEST; otherwise, without a
  // transactional id, the id and epoch given are ignored and a new id is handed out at epoch 0
  // (Kafka's TransactionCoordinator "blindly" allocates one; only transactional producers bump
  // epochs, KIP-360). Some clients (@platformatic/kafka) send 0/0 on their first request.
  const producerId = request.producerId ?? -1n;
  const producerEpoch = request.producerEpoch ?? -1;
  if ((producerId === -1n) !== (producerEpoch === -1)) return refuse;
  nextProducerId += 1n;
  return { throttleTimeMs: 0, errorCode: ERROR_CODE.NONE, producerId: nextProducerId, producerEpoch: 0 };
}
