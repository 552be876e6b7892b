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

type RequestedPartition = FetchRequest['topics'][number]['partitions'][number];

function knownPartition(count: number | undefined, partition: RequestedPartition): boolean {
  return count !== undefined && partition.partition >= 0 && partition.partition < count;
}

/** The read limit of `partition` with `budget` bytes left in the response (at least 1). */
function limitFor(partition: RequestedPartition, budget: number): number {
  return Math.max(1, Math.min(partition.partitionMaxBytes, budget));
}

/**
 * The outcome of a read whose first batch is larger than `bytesMax`, when the response may no
 * longer exceed its limits: the partition is answered with its offsets and no records, as Kafka
 * does (`firstEntryIncomplete` becomes empty records once an earlier partition returned data).
 */
function withinLimit(
  outcome: Awaited<ReturnType<typeof readPartition>>,
  bytesMax: number,
): Awaited<ReturnType<typeof readPartition>> {
  if ((outcome.response.records as Uint8Array).length <= bytesMax) return outcome;
  return { ...outcome, response: { ...outcome.response, records: EMPTY } };
}

/**
 * Reads the requested partitions, each up to its own limit and what is left of the response
 * budget. As Kafka (ReplicaManager.readFromLog with `minOneMessage`): only the first partition
 * that returns data may exceed its limits, with one whole batch, so a client always progresses;
 * after it, a partition whose next batch does not fit is answered without records, so the
 * response never grows past `max_bytes` by more than that one batch. The budget is charged in
 * request order with the bytes actually read, so a partition with nothing new never starves the
 * ones after it.
 *
 * When the partitions' limits fit in the budget together (the usual case: librdkafka asks for
 * 1 MiB per partition and 50 MiB per response), the budget cannot cut a read short, so the
 * partitions are read at once instead of one after another: their file reads overlap and the
 * response is ready sooner, which a client with one fetch in flight waits for. The answer is the
 * one reading in order gives: each read's limit is checked against the in-order budget, and a
 * partition whose limit differs (only after an earlier one returned a first batch larger than its
 * limit) is read again.
 */
async function readOnce(
  context: ServerContext,
  request: FetchRequest,
): Promise<{ response: FetchResponse; bytes: number; failed: boolean }> {
  const budgetMax = Math.max(1, Math.min(request.maxBytes, context.fetchResponseBytesMax));
  const counts: (number | undefined)[] = [];
  let limitsTotal = 0;
  for (const topic of request.topics) {
    const count = await context.topics.partitions(topic.topic);
    counts.push(count);
    for (const partition of topic.partitions) {
      if (knownPartition(count, partition)) limitsTotal += limitFor(partition, budgetMax);
    }
  }
  let early: (Awaited<ReturnType<typeof readPartition>> | undefined)[] | undefined;
  if (limitsTotal <= budgetMax) {
    early = await Promise.all(
      request.topics.flatMap((topic, topicIndex) =>
        topic.partitions.map((partition) =>
          knownPartition(counts[topicIndex], partition)
            ? readPartition(context, topic.topic, partition, limitFor(partition, budgetMax))
            : undefined,
        ),
      ),
    );
  }
  let budget = budgetMax;
  let bytes = 0;
  let failed = false;
  let slot = 0;
  const responses: FetchResponse['responses'][number][] = [];
  for (const [topicIndex, topic] of request.topics.entries()) {
    const partitions: FetchPartitionResponse[] = [];
    for (const partition of topic.partitions) {
      const earlyOutcome = early?.[slot++];
      if (!knownPartition(counts[topicIndex], partition)) {
        partitions.push(partitionError(partition.partition, ERROR_CODE.UNKNOWN_TOPIC_OR_PARTITION));
        failed = true;
        continue;
      }
      const bytesMax = bytes > 0 && budget <= 0 ? 0 : limitFor(partition, budget);
      const whole =
        earlyOutcome !== undefined && bytesMax === limitFor(partition, budgetMax)
          ? earlyOutcome
          : await readPartition(context, topic.topic, partition, bytesMax);
      // The log returns at least one whole batch; only the first partition with data keeps one
      // larger than its limit.
      const outcome = bytes > 0 ? withinLimit(whole, bytesMax) : whole;
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
