/**
 * OffsetCommit and OffsetFetch as Kafka's group coordinator answers them, each with the client
 * that found the difference: KafkaJS `admin.resetOffsets` commits -1 / -2 (stored as committed,
 * the consumer then applies its reset policy); kafka-python commit metadata survives a restart
 * and reads back through `committed()` and the OffsetFetch of every partition (null topics) of
 * kafka-python's admin and librdkafka's ListConsumerGroupOffsets; confluent-kafka (librdkafka) committing from outside a group with live members gets
 * UNKNOWN_MEMBER_ID.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually, runTool, withDeadline } from '@herald/test-support';
import kafkajs from 'kafkajs';
import { type Serve, startServe } from './support.ts';

const { Kafka, logLevel } = kafkajs;
const PYTHON = '/usr/bin/python3';
const LIBRDKAFKA_LIST = fileURLToPath(
  new URL('./fixtures/librdkafka_list_group_offsets.py', import.meta.url),
);

function client(serve: Serve) {
  return new Kafka({
    clientId: 'offset-commits-test',
    brokers: [serve.bootstrap],
    logLevel: logLevel.NOTHING,
  });
}

/** Runs a Python script with arguments; resolves the JSON of its last stdout line. */
async function python(script: string, args: readonly string[]): Promise<Record<string, unknown>> {
  const result = await runTool(PYTHON, ['-c', script, ...args], { timeoutMs: 60_000 });
  assert.equal(result.code, 0, `python failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

/** Consumes with a new member of `groupId` until `expected` values arrived; disconnects (committing). */
async function consumeUntil(
  serve: Serve,
  topic: string,
  groupId: string,
  fromBeginning: boolean,
  expected: number,
  beforeWait: () => Promise<void> = async () => {},
): Promise<string[]> {
  const consumer = client(serve).consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const values: string[] = [];
  let fetched = false;
  consumer.on(consumer.events.FETCH, () => {
    fetched = true;
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning });
    await consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value!.toString());
      },
    });
    // A fetch has been answered, so every partition's position is resolved.
    await eventually(
      () => fetched,
      () => 'a first fetch',
      30_000,
    );
    await beforeWait();
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

test('offset commits - kafkajs admin.resetOffsets to earliest and latest (commits -2 and -1)', async () => {
  const serve = await startServe({ partitions: 2 });
  const admin = client(serve).admin();
  const producer = client(serve).producer();
  try {
    await admin.connect();
    await producer.connect();
    await admin.createTopics({ topics: [{ topic: 'reset', numPartitions: 2 }] });
    const first = Array.from({ length: 10 }, (_, index) => `v${index}`);
    await producer.send({ topic: 'reset', messages: first.map((value) => ({ value })) });
    assert.deepEqual((await consumeUntil(serve, 'reset', 'resetter', true, 10)).sort(), first.sort());

    await withDeadline(
      admin.resetOffsets({ groupId: 'resetter', topic: 'reset', earliest: true }),
      30_000,
      'admin.resetOffsets earliest',
    );
    const earliest = await admin.fetchOffsets({ groupId: 'resetter', topics: ['reset'] });
    assert.deepEqual(
      earliest[0]!.partitions.map((partition) => partition.offset),
      ['-2', '-2'],
      'stored as committed, as Kafka does',
    );
    const again = await consumeUntil(serve, 'reset', 'resetter', true, 10);
    assert.deepEqual(again.sort(), first.sort(), 'the group reads from the earliest offset again');

    await withDeadline(
      admin.resetOffsets({ groupId: 'resetter', topic: 'reset', earliest: false }),
      30_000,
      'admin.resetOffsets latest',
    );
    const latest = await admin.fetchOffsets({ groupId: 'resetter', topics: ['reset'] });
    assert.deepEqual(
      latest[0]!.partitions.map((partition) => partition.offset),
      ['-1', '-1'],
    );
    const after = await consumeUntil(serve, 'reset', 'resetter', false, 1, async () => {
      await producer.send({ topic: 'reset', messages: [{ value: 'after-reset' }] });
    });
    assert.deepEqual(after, ['after-reset'], 'the group starts at the latest offset');
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    await serve.stop();
  }
});

const KAFKA_PYTHON_METADATA = `
import json, sys
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
bootstrap, topic, group, mode = sys.argv[1:5]
out = {}
consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
try:
    tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    consumer.assign([tp0, tp1])
    if mode == 'commit':
        consumer.commit({tp0: OffsetAndMetadata(3, 'Hello world!'), tp1: OffsetAndMetadata(5, None)})
        try:
            consumer.commit({tp1: OffsetAndMetadata(6, 'x' * 4097)})
            out['tooLarge'] = 'none'
        except Exception as error:
            out['tooLarge'] = type(error).__name__
    committed = consumer.committed(tp0, metadata=True)
    out['committed'] = [committed.offset, committed.metadata]
finally:
    consumer.close()
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
try:
    listed = admin.list_consumer_group_offsets(group)
    out['listed'] = sorted([tp.topic, tp.partition, value.offset, value.metadata] for tp, value in listed.items())
finally:
    admin.close()
print(json.dumps(out))
`;

test('offset commits - kafka-python commit metadata survives a restart; kafka-python and librdkafka list every partition', async () => {
  let serve = await startServe({ partitions: 2 });
  try {
    await runTool('kcat', ['-b', serve.bootstrap, '-P', '-t', 'annotated'], { input: 'a\nb\n' });
    const written = await python(KAFKA_PYTHON_METADATA, [
      serve.bootstrap,
      'annotated',
      'annotators',
      'commit',
    ]);
    assert.equal(written.tooLarge, 'OffsetMetadataTooLargeError');
    assert.deepEqual(written.committed, [3, 'Hello world!']);
    await serve.stop();
    serve = await startServe({ dir: serve.dir, partitions: 2 });
    const read = await python(KAFKA_PYTHON_METADATA, [serve.bootstrap, 'annotated', 'annotators', 'read']);
    assert.deepEqual(read.committed, [3, 'Hello world!']);
    assert.deepEqual(read.listed, [
      ['annotated', 0, 3, 'Hello world!'],
      ['annotated', 1, 5, ''],
    ]);
    // librdkafka asks for every partition with OffsetFetch v7's null topics (at v2-5 it sends an
    // empty list, which means no partitions).
    const listed = await runTool(PYTHON, [LIBRDKAFKA_LIST, serve.bootstrap, 'annotators'], {
      timeoutMs: 60_000,
    });
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), {
      offsets: [
        ['annotated', 0, 3],
        ['annotated', 1, 5],
      ],
    });
  } finally {
    await serve.stop();
  }
});

const CONFLUENT_OUTSIDE_COMMIT = `
import json, sys, time
from confluent_kafka import Consumer, KafkaException, TopicPartition
bootstrap, topic, group = sys.argv[1:4]
member = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'session.timeout.ms': 10000})
outsider = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'enable.auto.commit': False})
try:
    member.subscribe([topic])
    deadline = time.monotonic() + 30
    while not member.assignment():
        if time.monotonic() > deadline:
            raise SystemExit('the member was never assigned')
        member.poll(0.2)
    outsider.assign([TopicPartition(topic, 0, 1)])
    try:
        outsider.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
        error = 'NO_ERROR'
    except KafkaException as exception:
        error = exception.args[0].name()
finally:
    outsider.close()
    member.close()
print(json.dumps({'error': error}))
`;

test('offset commits - confluent-kafka commit from outside a live group gets UNKNOWN_MEMBER_ID', async () => {
  const serve = await startServe({ partitions: 2 });
  try {
    await runTool('kcat', ['-b', serve.bootstrap, '-P', '-t', 'lively'], { input: 'a\n' });
    const result = await python(CONFLUENT_OUTSIDE_COMMIT, [serve.bootstrap, 'lively', 'lively-group']);
    assert.equal(result.error, 'UNKNOWN_MEMBER_ID');
  } finally {
    await serve.stop();
  }
});
