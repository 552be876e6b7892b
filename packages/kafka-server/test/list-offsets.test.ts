/**
 * ListOffsets by timestamp with kafka-python's `offsets_for_times` (ListOffsets v1): as Kafka, the
 * answer carries the found record's own timestamp, not the one asked for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTool } from '@herald/test-support';
import { startServe } from './support.ts';

const OFFSETS_FOR_TIMES = `
import json, sys
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
bootstrap, topic = sys.argv[1:3]
producer = KafkaProducer(bootstrap_servers=bootstrap, acks='all')
try:
    for timestamp in (1000, 2000, 3000):
        producer.send(topic, b'v', partition=0, timestamp_ms=timestamp).get(timeout=20)
finally:
    producer.close()
consumer = KafkaConsumer(bootstrap_servers=bootstrap)
try:
    tp = TopicPartition(topic, 0)
    out = {}
    for asked in (1500, 3000, 4000):
        found = consumer.offsets_for_times({tp: asked})[tp]
        out[str(asked)] = None if found is None else [found.offset, found.timestamp]
finally:
    consumer.close()
print(json.dumps(out))
`;

test('list offsets - kafka-python offsets_for_times answers the found record and its timestamp', async () => {
  const serve = await startServe({ partitions: 1 });
  try {
    const result = await runTool('/usr/bin/python3', ['-c', OFFSETS_FOR_TIMES, serve.bootstrap, 'timed'], {
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout.trim().split('\n').at(-1)!), {
      1500: [1, 2000],
      3000: [2, 3000],
      4000: null,
    });
  } finally {
    await serve.stop();
  }
});
