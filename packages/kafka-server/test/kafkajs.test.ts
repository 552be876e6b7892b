/**
 * kafkajs 2.2.4 against `herald serve`: producer, group consumer from the beginning, admin
 * createTopics / fetchTopicOffsets / fetchOffsets, and resuming after a broker restart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '@herald/test-support';
import kafkajs from 'kafkajs';
import { type Serve, startServe } from './support.ts';

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
    await eventually(
      () => values.length >= expected,
      () => `${expected} messages, got ${values.length}`,
      30_000,
    );
  } finally {
    await consumer.disconnect();
  }
  return values;
}

/** Clients a test connected, disconnected in its `finally` even when an assertion failed (a no-op when done). */
const opened: { disconnect(): Promise<void> }[] = [];
function track<T extends { disconnect(): Promise<void> }>(connection: T): T {
  opened.push(connection);
  return connection;
}
async function disconnectAll(): Promise<void> {
  for (const connection of opened.splice(0)) await connection.disconnect().catch(() => {});
}

test('kafkajs - producer, group consumer, admin and resume after a restart', {
  timeout: 180_000,
}, async () => {
  let serve = await startServe({ partitions: 2 });
  const dir = serve.dir;
  try {
    const admin = track(client(serve).admin());
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic: 'kjs', numPartitions: 3 }] }), true);
    const producer = track(client(serve).producer());
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
    const late = track(client(serve).producer());
    await late.connect();
    await late.send({ topic: 'kjs', messages: [{ value: 'after-restart' }] });
    await late.disconnect();
    const resumed = await consumeGroup(serve, 'kjs', 'kjs-group', 1);
    assert.deepEqual(resumed, ['after-restart']);
  } finally {
    await disconnectAll();
    await serve.stop();
  }
});

test('kafkajs - admin listGroups and describeGroups see a live consumer, a committed-only group and an unknown one', {
  timeout: 180_000,
}, async () => {
  const serve = await startServe({ partitions: 2 });
  try {
    const admin = track(client(serve).admin());
    await admin.connect();
    const producer = track(client(serve).producer());
    await producer.connect();
    await producer.send({ topic: 'kjs-groups', messages: [{ value: 'a' }, { value: 'b' }] });
    await producer.disconnect();
    await consumeGroup(serve, 'kjs-groups', 'kjs-done', 2);

    const consumer = client(serve).consumer({
      groupId: 'kjs-live',
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'kjs-groups', fromBeginning: true });
      let seen = 0;
      await consumer.run({
        eachMessage: async () => {
          seen++;
        },
      });
      await eventually(
        () => seen >= 2,
        () => `kjs-live to read 2 messages, got ${seen}`,
        30_000,
      );

      const { groups } = await admin.listGroups();
      assert.deepEqual(
        groups.sort((a, b) => a.groupId.localeCompare(b.groupId)),
        [
          { groupId: 'kjs-done', protocolType: 'consumer' },
          { groupId: 'kjs-live', protocolType: 'consumer' },
        ],
      );
      const described = await admin.describeGroups(['kjs-live', 'kjs-done', 'nobody']);
      const [live, done, nobody] = described.groups;
      assert.equal(live!.state, 'Stable');
      assert.equal(live!.protocolType, 'consumer');
      assert.equal(live!.protocol, 'RoundRobinAssigner');
      assert.equal(live!.members.length, 1);
      assert.equal(live!.members[0]!.clientId, 'kafkajs-test');
      assert.equal(live!.members[0]!.clientHost, '/127.0.0.1');
      assert.ok(live!.members[0]!.memberMetadata.length > 0);
      assert.ok(live!.members[0]!.memberAssignment.length > 0);
      const assignment = kafkajs.AssignerProtocol.MemberAssignment.decode(live!.members[0]!.memberAssignment);
      assert.deepEqual(assignment?.assignment, { 'kjs-groups': [0, 1] });
      assert.deepEqual(
        [done!.groupId, done!.state, done!.protocolType, done!.members],
        ['kjs-done', 'Empty', 'consumer', []],
      );
      // kafkajs throws on a group error code, so reaching here means error NONE.
      assert.deepEqual([nobody!.groupId, nobody!.state], ['nobody', 'Dead']);
    } finally {
      await consumer.disconnect();
      await admin.disconnect();
    }
  } finally {
    await disconnectAll();
    await serve.stop();
  }
});
