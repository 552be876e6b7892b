/**
 * Fetch (4-11), sessionless. For each partition: whole stored batches from the one holding the
 * fetch offset (the client skips records before its offset), an empty answer at the high
 * watermark, OFFSET_OUT_OF_RANGE outside the log. Long-poll: until `min_bytes` are available or
 * `max_wait_ms` passes, woken by appends (no polling loop). `last_stable_offset` is the high
 * watermark, as there are no transactions.
 */
import {
  ERROR_CODE,
  type FetchPartitionResponse,
  type FetchRequest,
  type FetchResponse,
} from '@herald/kafka-protocol';
import type { ServerContext } from '../context.ts';
import { readErrorCode } from '../error-mapping.ts';

const EMPTY = new Uint8Array(0);

function partitionError(
  partitionIndex: number,
  errorCode: number,
  highWatermark = -1n,
  logStartOffset = -1n,
) {
  return {
    partitionIndex,
    errorCode,
    highWatermark,
    lastStableOffset: highWatermark,
    logStartOffset,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: EMPTY,
  };
}

async function readPartition(
  context: ServerContext,
  topic: string,
  partition: FetchRequest['topics'][number]['partitions'][number],
  bytesMax: number,
): Promise<{ response: FetchPartitionResponse; failed: boolean }> {
  try {
    if (bytesMax <= 0) {
      // The response is full: report the offsets without data, like Kafka.
      const offsets = await context.broker.partitionOffsets(topic, partition.partition);
      return {
        response: partitionError(
          partition.partition,
          ERROR_CODE.NONE,
          offsets.highWatermark,
          offsets.logStartOffset,
        ),
        failed: false,
      };
    }
    const read = await context.broker.readBatches(
      topic,
      partition.partition,
      partition.fetchOffset,
      bytesMax,
    );
    return {
      response: {
        ...partitionError(partition.partition, ERROR_CODE.NONE, read.highWatermark, read.logStartOffset),
        records: read.batches,
      },
      failed: false,
    };
  } catch (error) {
    const errorCode = readErrorCode(error);
    if (errorCode !== ERROR_CODE.OFFSET_OUT_OF_RANGE) context.onError(error);
    const offsets = await context.broker
      .partitionOffsets(topic, partition.partition)
      .catch(() => ({ highWatermark: -1n, logStartOffset: -1n }));
    return {
      response: partitionError(partition.partition, errorCode, offsets.highWatermark, offsets.logStartOffset),
      failed: true,
    };
  }
}

/**
 * Reads the requested partitions in request order, each up to its own limit and what is left of
 * the response budget (the log returns at least one whole batch, so a client always progresses).
 * Sequential on purpose: the budget is charged with the bytes actually read, so a partition with
 * nothing new never starves the ones after it.
 */
async function readOnce(
  context: ServerContext,
  request: FetchRequest,
): Promise<{ response: FetchResponse; bytes: number; failed: boolean }> {
  let budget = Math.max(1, Math.min(request.maxBytes, context.fetchResponseBytesMax));
  let bytes = 0;
  let failed = false;
  const responses: FetchResponse['responses'][number][] = [];
  for (const topic of request.topics) {
    const count = await context.topics.partitions(topic.topic);
    const partitions: FetchPartitionResponse[] = [];
    for (const partition of topic.partitions) {
      if (count === undefined || partition.partition < 0 || partition.partition >= count) {
        partitions.push(partitionError(partition.partition, ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION));
        failed = true;
        continue;
      }
      const bytesMax =
        bytes > 0 && budget <= 0 ? 0 : Math.max(1, Math.min(partition.partitionMaxBytes, budget));
      const outcome = await readPartition(context, topic.topic, partition, bytesMax);
      const read = (outcome.response.records as Uint8Array).length;
      bytes += read;
      budget -= read;
      failed ||= outcome.failed;
      partitions.push(outcome.response);
    }
    responses.push({ topic: topic.topic, partitions });
  }
  return {
    response: { throttleTimeMs: 0, errorCode: ERROR_CODE.NONE, sessionId: 0, responses },
    bytes,
    failed,
  };
}

/** Resolves on the first append to any fetched partition, on shutdown, or after `timeoutMs`. */
function appendWaiter(
  context: ServerContext,
  request: FetchRequest,
): { wait(timeoutMs: number): Promise<void>; dispose(): void } {
  let wake: (() => void) | undefined;
  let woken = false;
  const signal = () => {
    woken = true;
    wake?.();
  };
  const unsubscribes = request.topics.flatMap((topic) =>
    topic.partitions.map((partition) =>
      context.broker.onPartitionAppend(topic.topic, partition.partition, signal),
    ),
  );
  let timer: NodeJS.Timeout | undefined;
  return {
    wait: (timeoutMs) =>
      new Promise<void>((resolve) => {
        if (woken) {
          resolve();
          return;
        }
        wake = resolve;
        timer = setTimeout(resolve, timeoutMs);
        void context.closing.then(resolve);
      }),
    dispose: () => {
      clearTimeout(timer);
      for (const unsubscribe of unsubscribes) unsubscribe();
    },
  };
}

/** Handles Fetch. */
export async function handleFetch(context: ServerContext, request: FetchRequest): Promise<FetchResponse> {
  const deadline = performance.now() + Math.max(0, request.maxWaitMs);
  for (;;) {
    // Listen before reading, so an append between the read and the wait is not missed.
    const waiter = appendWaiter(context, request);
    try {
      const { response, bytes, failed } = await readOnce(context, request);
      const leftMs = deadline - performance.now();
      if (bytes >= request.minBytes || failed || leftMs <= 0 || context.isClosing()) return response;
      await waiter.wait(leftMs);
    } finally {
      waiter.dispose();
    }
  }
}
