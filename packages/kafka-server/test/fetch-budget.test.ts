/**
 * Fetch response budget, in-process against a broker: partition limits, the response `max_bytes`
 * charged in request order with the bytes read (the first partition's batch larger than a limit
 * still goes out, and the partitions after it get only batches that fit in what is left),
 * unknown partitions in between, and topics kept
 * in request order. Partitions whose limits fit in the budget together are read at once; the
 * answers must be those of reading one after another.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Broker, openBroker } from '@herald/broker';
import type { FetchRequest, FetchResponse } from '@herald/kafka-protocol';
import { encodeRecordBatch } from '@herald/log';
import { temporaryDirectory } from '@herald/test-support';
import type { ServerContext } from '../src/context.ts';
import { GroupCoordinator } from '../src/group-coordinator.ts';
import { handleFetch } from '../src/handlers/fetch.ts';
import { ProducerStateManager } from '../src/producer-state.ts';
import { TopicCache } from '../src/topic-cache.ts';

/** A batch of `count` records of `valueBytes` bytes each. */
function batch(count: number, valueBytes: number): Buffer {
  return encodeRecordBatch(
    Array.from({ length: count }, () => ({
      key: null,
      value: Buffer.alloc(valueBytes, 'v'),
      headers: [],
      timestampMs: 0,
    })),
    { timestampMs: 0 },
  );
}

/** Sizes of the whole batches in `records`. */
function batchSizes(records: Uint8Array | null): number[] {
  const sizes: number[] = [];
  if (records === null) return sizes;
  const view = Buffer.from(records.buffer, records.byteOffset, records.byteLength);
  for (let at = 0; at < view.length; at += view.readInt32BE(at + 8) + 12) {
    sizes.push(view.readInt32BE(at + 8) + 12);
  }
  return sizes;
}

function fetchRequest(
  requestBytesMax: number,
  topics: { topic: string; partitions: { partition: number; partitionMaxBytes: number }[] }[],
): FetchRequest {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: requestBytesMax,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: topics.map((topic) => ({
      topic: topic.topic,
      partitions: topic.partitions.map((partition) => ({
        ...partition,
        currentLeaderEpoch: -1,
        fetchOffset: 0n,
        logStartOffset: -1n,
      })),
    })),
    forgottenTopicsData: [],
    rackId: '',
  } as FetchRequest;
}

describe('fetch budget', { timeout: 600_000 }, () => {
  let broker: Broker;
  let context: ServerContext;
  let big: number;
  let small: number;

  before(async () => {
    broker = await openBroker({ dir: temporaryDirectory(), partitions: 3, fsync: 'never', leaderEpoch: -1 });
    await broker.createTopic('budget');
    await broker.createTopic('other', { partitions: 1 });
    const bigBatch = batch(20, 100);
    const smallBatch = batch(3, 100);
    big = bigBatch.length;
    small = smallBatch.length;
    await broker.appendBatch('budget', 0, bigBatch);
    for (const partition of [1, 2]) {
      for (let index = 0; index < 4; index++) await broker.appendBatch('budget', partition, smallBatch);
    }
    await broker.appendBatch('other', 0, smallBatch);
    context = {
      broker,
      topics: new TopicCache(broker),
      groups: new GroupCoordinator(),
      producers: new ProducerStateManager(broker),
      advertisedHost: '127.0.0.1',
      advertisedPort: 9092,
      clusterId: 'test',
      defaultPartitions: 3,
      autoCreateTopics: false,
      fetchResponseBytesMax: 64 * 1024 * 1024,
      closing: new Promise<void>(() => {}),
      isClosing: () => false,
      onError: (error) => {
        throw error;
      },
    };
  });

  after(async () => {
    context.groups.close();
    await broker.close();
  });

  const fetch = async (request: FetchRequest) => (await handleFetch(context, request)) as FetchResponse;

  test('each partition gets its own limit when the limits fit in the response', async () => {
    const response = await fetch(
      fetchRequest(1024 * 1024, [
        {
          topic: 'budget',
          partitions: [0, 1, 2].map((partition) => ({ partition, partitionMaxBytes: 2 * small + 1 })),
        },
      ]),
    );
    const partitions = response.responses[0]!.partitions;
    assert.deepEqual(
      partitions.map((partition) => batchSizes(partition.records as Uint8Array)),
      [[big], [small, small], [small, small]],
      'an oversized first batch still goes out; the others fill their limit with whole batches',
    );
    assert.deepEqual(
      partitions.map((partition) => partition.highWatermark),
      [20n, 12n, 12n],
    );
  });

  test('after an oversized first batch, later partitions get only what is left of max_bytes', async () => {
    // Limits total 3 * (2 small + 1) <= max_bytes, so the partitions are read at once; the big
    // batch of partition 0 then leaves less than a limit for partition 1 and nothing for 2.
    const limit = 2 * small + 1;
    const requestBytesMax = Math.max(3 * limit, big + small + 1);
    const response = await fetch(
      fetchRequest(requestBytesMax, [
        {
          topic: 'budget',
          partitions: [0, 1, 2].map((partition) => ({ partition, partitionMaxBytes: limit })),
        },
      ]),
    );
    // The sizes make the outcome fixed: the big batch leaves exactly one small batch plus a byte.
    assert.equal(requestBytesMax, big + small + 1, 'the budget is the big batch, one small batch and a byte');
    assert.ok(3 * limit <= requestBytesMax, 'the limits fit in the budget together');
    assert.deepEqual(
      response.responses[0]!.partitions.map((partition) => batchSizes(partition.records as Uint8Array)),
      [[big], [small], []],
      'partition 0 goes out whole, partition 1 gets the one batch that fits, partition 2 nothing',
    );
  });

  test('only the first partition with data may exceed its limit', async () => {
    // Partition 2 (small batches) comes first and returns data, so partition 0's big batch, larger
    // than its partition limit, is not sent; a fetch from partition 0 alone still gets it.
    const request = (partitions: number[]) =>
      fetchRequest(1024 * 1024, [
        {
          topic: 'budget',
          partitions: partitions.map((partition) => ({ partition, partitionMaxBytes: small })),
        },
      ]);
    const both = await fetch(request([2, 0]));
    assert.deepEqual(
      both.responses[0]!.partitions.map((partition) => [
        partition.partitionIndex,
        partition.errorCode,
        partition.highWatermark,
        batchSizes(partition.records as Uint8Array),
      ]),
      [
        [2, 0, 12n, [small]],
        [0, 0, 20n, []],
      ],
    );
    const alone = await fetch(request([0]));
    assert.deepEqual(batchSizes(alone.responses[0]!.partitions[0]!.records as Uint8Array), [big]);
  });

  test('a spent budget answers the remaining partitions with offsets only', async () => {
    const response = await fetch(
      fetchRequest(small, [
        {
          topic: 'budget',
          partitions: [0, 1, 2].map((partition) => ({ partition, partitionMaxBytes: small })),
        },
      ]),
    );
    const partitions = response.responses[0]!.partitions;
    assert.deepEqual(
      partitions.map((partition) => batchSizes(partition.records as Uint8Array)),
      [[big], [], []],
    );
    assert.deepEqual(
      partitions.map((partition) => [partition.errorCode, partition.highWatermark]),
      [
        [0, 20n],
        [0, 12n],
        [0, 12n],
      ],
    );
  });

  test('unknown partitions and topics answer in place; topics keep request order', async () => {
    const response = await fetch(
      fetchRequest(1024 * 1024, [
        { topic: 'other', partitions: [{ partition: 0, partitionMaxBytes: 1024 }] },
        {
          topic: 'budget',
          partitions: [
            { partition: 1, partitionMaxBytes: small },
            { partition: 7, partitionMaxBytes: small },
            { partition: 2, partitionMaxBytes: small },
          ],
        },
        { topic: 'missing', partitions: [{ partition: 0, partitionMaxBytes: small }] },
        { topic: 'budget', partitions: [] },
      ]),
    );
    assert.deepEqual(
      response.responses.map((topic) => [
        topic.topic,
        topic.partitions.map((partition) => [
          partition.partitionIndex,
          partition.errorCode,
          batchSizes(partition.records as Uint8Array).length,
        ]),
      ]),
      [
        ['other', [[0, 0, 1]]],
        [
          'budget',
          [
            [1, 0, 1],
            [7, 3, 0],
            [2, 0, 1],
          ],
        ],
        ['missing', [[0, 3, 0]]],
        ['budget', []],
      ],
    );
  });
});
