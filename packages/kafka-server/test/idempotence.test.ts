/**
 * The idempotent producer's sequence checks over a real socket to an in-process server: retries of
 * any of a producer's last 5 batches are answered with their original offsets and not stored again,
 * gaps are OUT_OF_ORDER_SEQUENCE_NUMBER, older epochs INVALID_PRODUCER_EPOCH, and the state is
 * rebuilt from the log's batch headers after a restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  API_KEY,
  ERROR_CODE,
  type InitProducerIdResponse,
  type ProducePartitionResponse,
  type ProduceResponse,
} from '@herald/kafka-protocol';
import { encodeRecordBatch } from '@herald/log';
import { temporaryDirectory } from '@herald/test-support';
import { type KafkaServer, startKafkaServer } from '../src/index.ts';
import { PRODUCERS_PER_PARTITION_MAX, ProducerStateManager } from '../src/producer-state.ts';
import { WireClient } from './wire-client.ts';

const PRODUCE_VERSION = 8;

/** Sends Produce requests pipelined on one connection; responses come back in request order. */
class ProduceClient {
  readonly #client: WireClient;

  constructor(port: number) {
    this.#client = new WireClient(port, { clientId: 'idempotence-test' });
  }

  /** InitProducerId v4 (flexible); `producerId` and `producerEpoch` name a current id (ignored without a transactional id). */
  initProducerId(producerId = -1n, producerEpoch = -1): Promise<InitProducerIdResponse> {
    const body = { transactionalId: null, transactionTimeoutMs: 60_000, producerId, producerEpoch };
    return this.#client.request<InitProducerIdResponse>(API_KEY.InitProducerId, 4, body);
  }

  async produce(topic: string, records: Uint8Array): Promise<ProducePartitionResponse> {
    const body = {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    };
    const decoded = await this.#client.request<ProduceResponse>(API_KEY.Produce, PRODUCE_VERSION, body);
    return decoded.responses[0]!.partitionResponses[0]!;
  }

  close(): void {
    this.#client.close();
  }
}

/** A batch of `count` records from producer 1000, `epoch`, starting at `sequence`. */
function batch(sequence: number, count = 3, epoch = 0, producerId = 1000n): Uint8Array {
  return encodeRecordBatch(
    Array.from({ length: count }, (_, index) => ({
      key: null,
      value: Buffer.from(`s${sequence + index}`),
      headers: [],
      timestampMs: 1,
    })),
    { timestampMs: 1, producerId, producerEpoch: epoch, baseSequence: sequence },
  );
}

function expectOffset(response: ProducePartitionResponse, baseOffset: bigint, what: string): void {
  assert.equal(response.errorCode, ERROR_CODE.NONE, `${what}: ${response.errorMessage}`);
  assert.equal(response.baseOffset, baseOffset, what);
}

describe('idempotent producer', () => {
  const dir = temporaryDirectory();
  let server: KafkaServer;
  before(async () => {
    server = await startKafkaServer({ dir, port: 0, partitions: 1 });
  });
  after(async () => {
    await server?.close();
  });

  test('idempotence - a retried batch gets its original offset; gaps and old epochs are refused', async () => {
    await server.broker.createTopic('seq');
    const client = new ProduceClient(server.port);
    try {
      expectOffset(await client.produce('seq', batch(0)), 0n, 'first batch');
      expectOffset(await client.produce('seq', batch(3)), 3n, 'second batch');
      expectOffset(await client.produce('seq', batch(0)), 0n, 'retry of the first batch');
      expectOffset(await client.produce('seq', batch(3)), 3n, 'retry of the second batch');
      const gap = await client.produce('seq', batch(10));
      assert.equal(gap.errorCode, ERROR_CODE.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a gap');
      const overlap = await client.produce('seq', batch(4));
      assert.equal(
        overlap.errorCode,
        ERROR_CODE.OUT_OF_ORDER_SEQUENCE_NUMBER,
        'a batch overlapping a stored one',
      );
      expectOffset(await client.produce('seq', batch(6)), 6n, 'the next batch after the refusals');
      const newEpochLate = await client.produce('seq', batch(9, 3, 1));
      assert.equal(newEpochLate.errorCode, ERROR_CODE.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a new epoch not at 0');
      expectOffset(await client.produce('seq', batch(0, 3, 1)), 9n, 'a new epoch from sequence 0');
      const old = await client.produce('seq', batch(9, 3, 0));
      assert.equal(old.errorCode, ERROR_CODE.INVALID_PRODUCER_EPOCH, 'the old epoch');
      expectOffset(
        await client.produce('seq', batch(50, 3, 0, 2000n)),
        12n,
        'an unknown producer at any sequence',
      );
      assert.equal(
        (await server.broker.partitionOffsets('seq', 0)).highWatermark,
        15n,
        'nothing stored twice',
      );
    } finally {
      client.close();
    }
  });

  test('idempotence - 5 batches in flight, all retried: original offsets; the 6th-last is out of order', async () => {
    await server.broker.createTopic('inflight');
    const client = new ProduceClient(server.port);
    try {
      const sequences = [0, 2, 4, 6, 8, 10];
      const first = await Promise.all(
        sequences.map((sequence) => client.produce('inflight', batch(sequence, 2))),
      );
      for (const [index, response] of first.entries())
        expectOffset(response, BigInt(index * 2), `batch ${index}`);
      const retried = await Promise.all(
        sequences.slice(1).map((sequence) => client.produce('inflight', batch(sequence, 2))),
      );
      for (const [index, response] of retried.entries()) {
        expectOffset(response, BigInt((index + 1) * 2), `retry ${index + 1}`);
      }
      const tooOld = await client.produce('inflight', batch(0, 2));
      assert.equal(
        tooOld.errorCode,
        ERROR_CODE.OUT_OF_ORDER_SEQUENCE_NUMBER,
        'only the last 5 are remembered',
      );
      assert.equal((await server.broker.partitionOffsets('inflight', 0)).highWatermark, 12n);
    } finally {
      client.close();
    }
  });

  test('idempotence - InitProducerId hands out a new id at epoch 0 whatever id it names; epochs are still checked', async () => {
    await server.broker.createTopic('bump');
    const client = new ProduceClient(server.port);
    try {
      const first = await client.initProducerId();
      const second = await client.initProducerId();
      assert.equal(first.errorCode, ERROR_CODE.NONE);
      assert.equal(first.producerEpoch, 0);
      assert.notEqual(first.producerId, second.producerId, 'a new id per producer');
      const id = first.producerId;
      // As Kafka without a transactional id: the id and epoch named are ignored (no KIP-360 bump).
      const again = await client.initProducerId(id, 0);
      assert.equal(again.errorCode, ERROR_CODE.NONE);
      assert.notEqual(again.producerId, id, 'a named id is not handed back');
      assert.equal(again.producerEpoch, 0);
      const zero = await client.initProducerId(0n, 0);
      assert.ok(
        zero.producerId > 0n && zero.producerEpoch === 0,
        'id 0 / epoch 0 (as @platformatic/kafka sends) gets a new id',
      );
      const half = await client.initProducerId(id, -1);
      assert.equal(half.errorCode, ERROR_CODE.INVALID_REQUEST, 'an id without an epoch');
      expectOffset(await client.produce('bump', batch(0, 3, 0, id)), 0n, 'epoch 0');
      expectOffset(await client.produce('bump', batch(0, 3, 1, id)), 3n, 'a newer epoch restarts at 0');
      const fenced = await client.produce('bump', batch(3, 3, 0, id));
      assert.equal(fenced.errorCode, ERROR_CODE.INVALID_PRODUCER_EPOCH, 'the old epoch is fenced');
    } finally {
      client.close();
    }
  });

  test('idempotence - after a restart the state is rebuilt from the batch headers in the log', async () => {
    await server.broker.createTopic('restart');
    let client = new ProduceClient(server.port);
    for (let index = 0; index < 4; index++) {
      expectOffset(await client.produce('restart', batch(index * 3)), BigInt(index * 3), `batch ${index}`);
    }
    client.close();
    await server.close();
    server = await startKafkaServer({ dir, port: 0, partitions: 1 });
    client = new ProduceClient(server.port);
    try {
      expectOffset(
        await client.produce('restart', batch(9)),
        9n,
        'a retry of the last batch after the restart',
      );
      expectOffset(await client.produce('restart', batch(3)), 3n, 'a retry of an earlier batch');
      const gap = await client.produce('restart', batch(15));
      assert.equal(gap.errorCode, ERROR_CODE.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a gap after the restart');
      expectOffset(await client.produce('restart', batch(12)), 12n, 'the next batch');
      assert.equal((await server.broker.partitionOffsets('restart', 0)).highWatermark, 15n);
    } finally {
      client.close();
    }
  });
});

test('idempotence - a partition remembers at most PRODUCERS_PER_PARTITION_MAX producers, least recently active first', async () => {
  const server = await startKafkaServer({ dir: temporaryDirectory(), port: 0, partitions: 1 });
  try {
    await server.broker.createTopic('many');
    const producers = new ProducerStateManager(server.broker);
    await producers.ready('many', 0);
    const producer = (producerId: bigint, baseSequence: number) => ({
      producerId,
      producerEpoch: 0,
      baseSequence,
      lastSequence: baseSequence,
      recordCount: 1,
    });
    const record = (producerId: bigint, baseSequence: number) => {
      const verdict = producers.check('many', 0, producer(producerId, baseSequence));
      assert.equal(verdict.kind, 'append');
      if (verdict.kind === 'append') verdict.record!(Promise.resolve(BigInt(baseSequence)));
    };
    for (let id = 0; id < PRODUCERS_PER_PARTITION_MAX; id++) record(BigInt(id), 0);
    record(0n, 1); // producer 0 is active again: producer 1 is now the least recently active
    record(BigInt(PRODUCERS_PER_PARTITION_MAX), 0); // one more: producer 1 is forgotten
    assert.equal(producers.check('many', 0, producer(0n, 1)).kind, 'duplicate', 'producer 0 is remembered');
    assert.equal(producers.check('many', 0, producer(1n, 7)).kind, 'append', 'producer 1 is unknown again');
    assert.equal(producers.check('many', 0, producer(2n, 7)).kind, 'error', 'producer 2 is remembered');
  } finally {
    await server.close();
  }
});

test('idempotence - a partition whose producer state is not loaded answers a retriable error', async () => {
  const server = await startKafkaServer({ dir: temporaryDirectory(), port: 0, partitions: 1 });
  try {
    const producers = new ProducerStateManager(server.broker);
    const verdict = producers.check('unloaded', 0, {
      producerId: 1n,
      producerEpoch: 0,
      baseSequence: 0,
      lastSequence: 0,
      recordCount: 1,
    });
    assert.equal(verdict.kind, 'error');
    if (verdict.kind === 'error') assert.equal(verdict.errorCode, ERROR_CODE.NOT_LEADER_OR_FOLLOWER);
    assert.equal(
      producers.check('unloaded', 0, undefined).kind,
      'append',
      'non-idempotent batches need no state',
    );
  } finally {
    await server.close();
  }
});
