/**
 * Produce (advertised 0-11, served 3-11). Each partition's records must be one RecordBatch v2
 * (magic 2), as Kafka requires from v3 (INVALID_RECORD otherwise; zstd only from v7). The batch is
 * handed to the broker opaque, where the log checks length, CRC-32C and record count before
 * storing it with BaseOffset and PartitionLeaderEpoch rewritten, so a corrupt batch is answered
 * with CORRUPT_MESSAGE and never stored. v0-2 (message sets) get UNSUPPORTED_FOR_MESSAGE_FORMAT.
 * acks=0 gets no response (the caller drops it). Batches of idempotent producers go through the
 * sequence checks of `producer-state.ts` first: a retried batch is answered with its original
 * offset, a gap with OUT_OF_ORDER_SEQUENCE_NUMBER.
 */
import {
  ERROR_CODE,
  type ProducePartitionResponse,
  type ProduceRequest,
  type ProduceResponse,
} from '@herald/kafka-protocol';
import {
  BATCH_ATTRIBUTE,
  BATCH_FIELD,
  COMPRESSION_CODEC_IDS,
  LOG_OVERHEAD_BYTES,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_BATCH_MAGIC,
} from '@herald/log';
import type { ServerContext } from '../context.ts';
import { appendErrorCode } from '../error-mapping.ts';
import { batchProducer } from '../producer-state.ts';

/** First Produce version that may carry zstd batches. */
const ZSTD_PRODUCE_VERSION_MIN = 7;

/**
 * The one batch of a partition's records in a Produce request (v3+), or the Kafka error code
 * that rejects them. As Kafka's `ProduceRequest.validateRecords`: exactly one batch, of magic 2
 * (else INVALID_RECORD), and no zstd before v7 (UNSUPPORTED_COMPRESSION_TYPE). A batch cut short
 * or with a length past the records is CORRUPT_MESSAGE.
 */
export function produceBatch(records: Uint8Array | null, version: number): Uint8Array | number {
  if (records === null || records.length === 0) return ERROR_CODE.INVALID_RECORD;
  const batches = splitBatches(records);
  if (typeof batches === 'number') {
    return batches === ERROR_CODE.UNSUPPORTED_FOR_MESSAGE_FORMAT ? ERROR_CODE.INVALID_RECORD : batches;
  }
  if (batches.length !== 1) return ERROR_CODE.INVALID_RECORD;
  const batch = batches[0]!;
  if (
    version < ZSTD_PRODUCE_VERSION_MIN &&
    (batch[BATCH_FIELD.attributes + 1]! & BATCH_ATTRIBUTE.compressionMask) === COMPRESSION_CODEC_IDS.zstd
  ) {
    return ERROR_CODE.UNSUPPORTED_COMPRESSION_TYPE;
  }
  return batch;
}

/** Splits `records` into whole batches, or returns the Kafka error code that rejects them. */
export function splitBatches(records: Uint8Array | null): Uint8Array[] | number {
  if (records === null || records.length === 0) return ERROR_CODE.CORRUPT_MESSAGE;
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  const batches: Uint8Array[] = [];
  for (let at = 0; at < records.length; ) {
    if (records.length - at < RECORD_BATCH_HEADER_BYTES) {
      // Old message sets (magic 0/1) have shorter headers; both cases are refused.
      return records.length - at > BATCH_FIELD.magic && records[at + BATCH_FIELD.magic] !== RECORD_BATCH_MAGIC
        ? ERROR_CODE.UNSUPPORTED_FOR_MESSAGE_FORMAT
        : ERROR_CODE.CORRUPT_MESSAGE;
    }
    if (records[at + BATCH_FIELD.magic] !== RECORD_BATCH_MAGIC)
      return ERROR_CODE.UNSUPPORTED_FOR_MESSAGE_FORMAT;
    const size = view.getInt32(at + BATCH_FIELD.batchLength) + LOG_OVERHEAD_BYTES;
    if (size < RECORD_BATCH_HEADER_BYTES || size > records.length - at) return ERROR_CODE.CORRUPT_MESSAGE;
    batches.push(records.subarray(at, at + size));
    at += size;
  }
  return batches;
}

type PartitionOutcome = Promise<ProducePartitionResponse>;

function failed(
  index: number,
  errorCode: number,
  errorMessage: string | null = null,
): ProducePartitionResponse {
  return { index, errorCode, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, errorMessage };
}

async function appendAll(
  context: ServerContext,
  topic: string,
  index: number,
  appends: Promise<{ baseOffset: bigint }>[],
): PartitionOutcome {
  try {
    const results = await Promise.all(appends);
    const { logStartOffset } = await context.broker.partitionOffsets(topic, index);
    return {
      index,
      errorCode: ERROR_CODE.NONE,
      baseOffset: results[0]!.baseOffset,
      logAppendTimeMs: -1n,
      logStartOffset,
    };
  } catch (error) {
    const errorCode = appendErrorCode(error);
    if (errorCode === ERROR_CODE.UNKNOWN_SERVER_ERROR || errorCode === ERROR_CODE.KAFKA_STORAGE_ERROR)
      context.onError(error);
    return failed(index, errorCode, (error as Error).message);
  }
}

/**
 * Idempotent batches are checked against their producer's state, which is rebuilt from the log
 * the first time a partition sees one after a start: resolves once every partition of the
 * request that holds such a batch has its state.
 */
async function loadProducerState(
  context: ServerContext,
  request: ProduceRequest,
  split: readonly (readonly (Uint8Array[] | number)[])[],
): Promise<void> {
  const loads: Promise<void>[] = [];
  request.topicData.forEach((topic, topicIndex) => {
    topic.partitionData.forEach((partition, partitionIndex) => {
      const batches = split[topicIndex]![partitionIndex]!;
      if (typeof batches === 'number' || context.producers.isReady(topic.name, partition.index)) return;
      if (batches.some((batch) => batchProducer(batch) !== undefined))
        loads.push(context.producers.ready(topic.name, partition.index));
    });
  });
  await Promise.all(loads);
}

/**
 * Checks and enqueues one partition's batches, synchronously (the order in which appends reach
 * the log is the order in which sequences were checked). A retried batch is answered with its
 * original offset and not stored again; a refused one ends the partition's batches.
 */
function appendPartition(
  context: ServerContext,
  topic: string,
  index: number,
  batches: readonly Uint8Array[],
): PartitionOutcome {
  const appends: Promise<{ baseOffset: bigint }>[] = [];
  for (const batch of batches) {
    const verdict = context.producers.check(topic, index, batchProducer(batch));
    if (verdict.kind === 'error') {
      // Batches before it (clients send one batch per partition) are stored; report the refusal.
      const refusal = () => failed(index, verdict.errorCode, verdict.message);
      return Promise.all(appends).then(refusal, refusal);
    }
    if (verdict.kind === 'duplicate') {
      appends.push(verdict.baseOffset.then((baseOffset) => ({ baseOffset })));
      continue;
    }
    const append = context.broker.appendBatch(topic, index, batch);
    // The state handles a failed append itself (the derived promise's rejection is caught there).
    verdict.record?.(append.then((result) => result.baseOffset));
    appends.push(append);
  }
  return appendAll(context, topic, index, appends);
}

/**
 * Starts every append of the request. Runs inside the connection's produce gate, so the appends
 * of pipelined requests reach each partition in request order; the returned promise settles once
 * every append is durable.
 */
export async function startProduce(
  context: ServerContext,
  request: ProduceRequest,
  version: number,
): Promise<() => Promise<ProduceResponse>> {
  const refuse = (errorCode: number) => async () => ({
    throttleTimeMs: 0,
    responses: request.topicData.map((topic) => ({
      name: topic.name,
      partitionResponses: topic.partitionData.map((partition) => failed(partition.index, errorCode)),
    })),
  });
  if (version < 3) return refuse(ERROR_CODE.UNSUPPORTED_FOR_MESSAGE_FORMAT);
  if (request.transactionalId !== null) return refuse(ERROR_CODE.INVALID_TXN_STATE);
  if (request.acks !== 0 && request.acks !== 1 && request.acks !== -1)
    return refuse(ERROR_CODE.INVALID_REQUIRED_ACKS);
  const partitionCounts = await Promise.all(
    request.topicData.map((topic) => context.topics.partitions(topic.name)),
  );
  const split = request.topicData.map((topic, topicIndex) =>
    topic.partitionData.map((partition) => {
      const count = partitionCounts[topicIndex];
      if (count === undefined || partition.index < 0 || partition.index >= count)
        return ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION;
      const batch = produceBatch(partition.records, version);
      return typeof batch === 'number' ? batch : [batch];
    }),
  );
  await loadProducerState(context, request, split);
  // From here on everything is synchronous until every append has been enqueued.
  const responses = request.topicData.map((topic, topicIndex) => ({
    name: topic.name,
    outcomes: topic.partitionData.map((partition, partitionIndex): PartitionOutcome => {
      const batches = split[topicIndex]![partitionIndex]!;
      if (typeof batches === 'number') return Promise.resolve(failed(partition.index, batches));
      return appendPartition(context, topic.name, partition.index, batches);
    }),
  }));
  return async () => ({
    throttleTimeMs: 0,
    responses: await Promise.all(
      responses.map(async (topic) => ({
        name: topic.name,
        partitionResponses: await Promise.all(topic.outcomes),
      })),
    ),
  });
}
