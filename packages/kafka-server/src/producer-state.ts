/**
 * Idempotent-producer sequence checks, per partition and producer id, as Kafka's
 * `ProducerStateManager` makes them (KIP-98):
 *
 * - The last 5 batches of each producer (Kafka's `NUM_BATCHES_TO_RETAIN`, the most a producer has
 *   in flight) are remembered with their sequence range and offsets. A batch that repeats one of
 *   them (same epoch, first and last sequence) is a retry of a batch already stored: it is not
 *   appended again and is answered NONE with the original base offset, as Kafka answers.
 * - Otherwise, with the producer's current epoch, the batch's first sequence must follow the last
 *   one (wrapping after 2^31-1), else OUT_OF_ORDER_SEQUENCE_NUMBER. A newer epoch must start at
 *   sequence 0 (else OUT_OF_ORDER_SEQUENCE_NUMBER) and replaces the state; an older epoch gets
 *   INVALID_PRODUCER_EPOCH. A producer this partition has no state for is accepted at any
 *   sequence (Kafka does the same once a producer's state has expired).
 * - Checks happen when an append is enqueued, synchronously, so batches of one producer that are
 *   in flight together are checked in the order they reach the log. A batch that fails to append
 *   (CORRUPT_MESSAGE, a storage error) is dropped from the state again.
 *
 * At most `PRODUCERS_PER_PARTITION_MAX` producers are remembered per partition (the least recently
 * active is forgotten first), so memory stays bounded however many producers come and go.
 *
 * Restarts: nothing is written besides the log. The log keeps every batch's producer id, epoch
 * and base sequence (RecordBatch v2 headers are stored as sent), so on the first idempotent
 * produce to a partition after a start the state is rebuilt from the headers of the partition's
 * last `RECOVERY_OFFSETS` offsets (reading at most `RECOVERY_BYTES_MAX`). A retry after a crash is
 * a retry of one of a producer's last 5 batches, which sit at the end of the log; producers whose
 * batches lie further back are unknown again and accepted at any sequence, as Kafka accepts them
 * once their state expired.
 */
import type { Broker } from '@herald/broker';
import { ERROR_CODE } from '@herald/kafka-protocol';
import { decodeRecordBatchHeader, recordBatchSize } from '@herald/log';

/** Batches remembered per producer and partition (Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN). */
export const BATCHES_RETAINED = 5;
/**
 * Producers remembered per partition; past it the least recently active one is forgotten (it is
 * then accepted at any sequence, as Kafka treats a producer whose state expired).
 */
export const PRODUCERS_PER_PARTITION_MAX = 10_000;
/** How far back from the high watermark a partition's producer state is rebuilt after a start. */
export const RECOVERY_OFFSETS = 100_000n;
/** Most bytes read to rebuild one partition's producer state. */
export const RECOVERY_BYTES_MAX = 64 * 1024 * 1024;
const SEQUENCE_MAX = 0x7fffffff;

/** The producer fields of a RecordBatch v2 header. */
export interface BatchProducer {
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  /** baseSequence + lastOffsetDelta (wrapped). */
  readonly lastSequence: number;
  readonly recordCount: number;
}

interface RetainedBatch {
  readonly firstSequence: number;
  readonly lastSequence: number;
  /** Resolves the stored base offset; rejects when the append failed. */
  readonly baseOffset: Promise<bigint>;
}

interface ProducerEntry {
  epoch: number;
  batches: RetainedBatch[];
}

/** What {@link ProducerStateManager.check} decided for one batch. */
export type SequenceCheck =
  | {
      readonly kind: 'append';
      /** Set for an idempotent batch: records its append (undefined for other batches). */
      readonly record: ((baseOffset: Promise<bigint>) => void) | undefined;
    }
  | { readonly kind: 'duplicate'; readonly baseOffset: Promise<bigint> }
  | { readonly kind: 'error'; readonly errorCode: number; readonly message: string };

const APPEND_UNTRACKED: SequenceCheck = { kind: 'append', record: undefined };

/** The producer fields of the batch at the start of `batch`, or undefined for a non-idempotent one. */
export function batchProducer(batch: Uint8Array): BatchProducer | undefined {
  const header = decodeRecordBatchHeader(batch);
  if (header.producerId < 0n || header.baseSequence < 0) return undefined;
  return {
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    lastSequence: wrap(header.baseSequence + header.lastOffsetDelta),
    recordCount: header.recordsCount,
  };
}

function wrap(sequence: number): number {
  return sequence > SEQUENCE_MAX ? sequence - SEQUENCE_MAX - 1 : sequence;
}

function inSequence(lastSequence: number, nextSequence: number): boolean {
  return nextSequence === lastSequence + 1 || (nextSequence === 0 && lastSequence === SEQUENCE_MAX);
}

/** Producer state of every partition of one server. */
export class ProducerStateManager {
  readonly #broker: Broker;
  /** `topic\0partition` -> producer id -> entry. */
  readonly #partitions = new Map<string, Map<bigint, ProducerEntry>>();
  readonly #loading = new Map<string, Promise<void>>();

  constructor(broker: Broker) {
    this.#broker = broker;
  }

  /**
   * Resolves once `partition`'s state is loaded (rebuilt from the log the first time). Call
   * before {@link check}; resolves at once after the first time.
   */
  ready(topic: string, partition: number): Promise<void> {
    const key = `${topic}\0${partition}`;
    let loading = this.#loading.get(key);
    if (loading === undefined) {
      loading = this.#rebuild(topic, partition, key);
      this.#loading.set(key, loading);
    }
    return loading;
  }

  /** True when `partition`'s state is loaded, so {@link check} may run synchronously. */
  isReady(topic: string, partition: number): boolean {
    return this.#partitions.has(`${topic}\0${partition}`);
  }

  /**
   * Checks one batch about to be appended (synchronously, after {@link ready}; a partition whose
   * state is not loaded gets NOT_LEADER_OR_FOLLOWER, which clients retry).
   * 'append': append it, then call `record` with the append's base offset at once (before any
   * other batch of the partition is checked). 'duplicate': answer with `baseOffset`, do not append.
   */
  check(topic: string, partition: number, producer: BatchProducer | undefined): SequenceCheck {
    if (producer === undefined) return APPEND_UNTRACKED;
    const producers = this.#partitions.get(`${topic}\0${partition}`);
    if (producers === undefined) {
      // Forgotten since it was loaded (the topic was deleted meanwhile): the client retries.
      return {
        kind: 'error',
        errorCode: ERROR_CODE.NOT_LEADER_OR_FOLLOWER,
        message: `producer state of ${topic}/${partition} is not loaded; retry`,
      };
    }
    const entry = producers.get(producer.producerId);
    if (entry !== undefined) {
      if (producer.producerEpoch < entry.epoch) {
        return {
          kind: 'error',
          errorCode: ERROR_CODE.INVALID_PRODUCER_EPOCH,
          message: `producer ${producer.producerId} epoch ${producer.producerEpoch} is older than ${entry.epoch}`,
        };
      }
      if (producer.producerEpoch === entry.epoch) {
        const duplicate = entry.batches.find(
          (batch) =>
            batch.firstSequence === producer.baseSequence && batch.lastSequence === producer.lastSequence,
        );
        if (duplicate !== undefined) return { kind: 'duplicate', baseOffset: duplicate.baseOffset };
        const last = entry.batches.at(-1);
        if (last !== undefined && !inSequence(last.lastSequence, producer.baseSequence)) {
          return {
            kind: 'error',
            errorCode: ERROR_CODE.OUT_OF_ORDER_SEQUENCE_NUMBER,
            message: `producer ${producer.producerId}: sequence ${producer.baseSequence} does not follow ${last.lastSequence}`,
          };
        }
      } else if (producer.baseSequence !== 0) {
        return {
          kind: 'error',
          errorCode: ERROR_CODE.OUT_OF_ORDER_SEQUENCE_NUMBER,
          message: `producer ${producer.producerId}: new epoch ${producer.producerEpoch} must start at sequence 0, not ${producer.baseSequence}`,
        };
      }
    }
    return {
      kind: 'append',
      record: (baseOffset) => this.#remember(producers, producer, baseOffset),
    };
  }

  /** Forgets a deleted topic's state. */
  forgetTopic(topic: string): void {
    for (const key of [...this.#partitions.keys()]) {
      if (key.startsWith(`${topic}\0`)) {
        this.#partitions.delete(key);
        this.#loading.delete(key);
      }
    }
  }

  #remember(
    producers: Map<bigint, ProducerEntry>,
    producer: BatchProducer,
    baseOffset: Promise<bigint>,
  ): void {
    let entry = producers.get(producer.producerId);
    if (entry === undefined || entry.epoch !== producer.producerEpoch) {
      entry = { epoch: producer.producerEpoch, batches: [] };
    }
    // Re-inserted so the map's order is least recently active first.
    producers.delete(producer.producerId);
    producers.set(producer.producerId, entry);
    if (producers.size > PRODUCERS_PER_PARTITION_MAX) producers.delete(producers.keys().next().value!);
    const retained: RetainedBatch = {
      firstSequence: producer.baseSequence,
      lastSequence: producer.lastSequence,
      baseOffset,
    };
    entry.batches.push(retained);
    if (entry.batches.length > BATCHES_RETAINED) entry.batches.shift();
    const owner = entry;
    // A failed append leaves nothing in the log: forget it, so the producer's retry is checked
    // against what was stored.
    baseOffset.catch(() => {
      const index = owner.batches.indexOf(retained);
      if (index >= 0) owner.batches.splice(index, 1);
    });
  }

  async #rebuild(topic: string, partition: number, key: string): Promise<void> {
    const producers = new Map<bigint, ProducerEntry>();
    try {
      const { logStartOffset, highWatermark } = await this.#broker.partitionOffsets(topic, partition);
      let offset =
        highWatermark - RECOVERY_OFFSETS > logStartOffset ? highWatermark - RECOVERY_OFFSETS : logStartOffset;
      let bytesRead = 0;
      while (offset < highWatermark && bytesRead < RECOVERY_BYTES_MAX) {
        const read = await this.#broker.readBatches(topic, partition, offset, 8 * 1024 * 1024);
        if (read.batchCount === 0) break;
        bytesRead += read.batches.length;
        for (let at = 0; at < read.batches.length; ) {
          const size = recordBatchSize(read.batches, at);
          const batch = read.batches.subarray(at, at + size);
          const header = decodeRecordBatchHeader(batch);
          const producer = batchProducer(batch);
          if (producer !== undefined) this.#remember(producers, producer, Promise.resolve(header.baseOffset));
          at += size;
        }
        offset = read.nextOffset;
      }
    } catch {
      // A partition that cannot be read starts with no producer state: every producer is accepted
      // at any sequence, as for a producer Kafka has forgotten.
    }
    // Appends checked while this ran (none: check() requires the state) cannot be lost.
    if (!this.#partitions.has(key)) this.#partitions.set(key, producers);
  }
}
