/**
 * kafkajs 2.2.4 against `herald serve`: producer, group consumer from the beginning, admin
 * createTopics / fetchTopicOffsets / fetchOffsets, and resuming after a broker restart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { type Serve, startServe, waitFor } from './support.ts';

const { Kafka, logLevel } = kafkajs;

function client(serve: Serve) {
  return new Kafka({ clientId: 'kafkajs-test', brokers: [serve.bootstrap], logLevel: logLevel.NOTHING });
}

async function consumeGroup(
  serve: Serve,
  topic: string,
  groupId: string,
  expected: number,
): Promise<string[]> {
  const consumer = client(serve).consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const values: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value!.toString());
      },
    });
    await waitFor(
      () => values.length >= expected,
      () => `${expected} messages, got ${values.length}`,
      30_000,
    );
  } finally {
    await consumer.disconnect();
  }
  return values;
}

test('kafkajs - producer, group consumer, admin and resume after a restart', async () => {
  let serve = await startServe({ partitions: 2 });
  const dir = serve.dir;
  try {
    const admin = client(serve).admin();
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic: 'kjs', numPartitions: 3 }] }), true);
    const producer = client(serve).producer();
    await producer.connect();
    await producer.send({
      topic: 'kjs',
      messages: Array.from({ length: 30 }, (_, index) => ({ key: `k${index}`, value: `v${index}` })),
    });
    await producer.disconnect();
    const offsets = await admin.fetchTopicOffsets('kjs');
    assert.equal(offsets.length, 3);
    assert.equal(
      offsets.reduce((sum, partition) => sum + Number(partition.high), 0),
      30,
    );
    const first = await consumeGroup(serve, 'kjs', 'kjs-group', 30);
    assert.equal(new Set(first).size, 30);
    const committed = await admin.fetchOffsets({ groupId: 'kjs-group', topics: ['kjs'] });
    const committedTotal = committed[0]!.partitions.reduce(
      (sum, partition) => sum + Number(partition.offset),
      0,
    );
    assert.equal(committedTotal, 30);
    await admin.disconnect();

    await serve.stop();
    serve = await startServe({ dir, partitions: 2 });
    const late = client(serve).producer();
    await late.connect();
    await late.send({ topic: 'kjs', messages: [{ value: 'after-restart' }] });
    await late.disconnect();
    const resumed = await consumeGroup(serve, 'kjs', 'kjs-group', 1);
    assert.deepEqual(resumed, ['after-restart']);
  } finally {
    await serve.stop();
  }
});
