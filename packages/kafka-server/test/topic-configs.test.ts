/**
 * CreateTopics configs with kafka-python's `KafkaAdminClient` and confluent-kafka's `AdminClient`
 * (librdkafka): supported configs are applied to the log and still apply after a restart
 * (`max.message.bytes` refuses a larger batch, `segment.bytes` rolls segments); unknown configs,
 * unparsable values and `cleanup.policy=compact` are INVALID_CONFIG with a message, and nothing is
 * created for them (nor for a name given twice in one request, as Kafka).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runTool } from '@herald/test-support';
import { parseTopicConfigs } from '../src/topic-configs.ts';
import { startServe } from './support.ts';

const PYTHON = '/usr/bin/python3';

async function python(script: string, args: readonly string[]): Promise<Record<string, unknown>> {
  const result = await runTool(PYTHON, ['-c', script, ...args], { timeoutMs: 60_000 });
  assert.equal(result.code, 0, `python failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

const KAFKA_PYTHON_CREATE = `
import json, sys
from kafka.admin import KafkaAdminClient, NewTopic
bootstrap = sys.argv[1]
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
out = {}
try:
    cases = {
        'configured': {'retention.ms': '86400000', 'retention.bytes': '-1', 'segment.bytes': '1024',
                       'max.message.bytes': '2048', 'cleanup.policy': 'delete', 'compression.type': 'producer'},
        'unknown-name': {'no.such.config': '1'},
        'bad-value': {'retention.ms': 'soon'},
        'compacted': {'cleanup.policy': 'compact'},
    }
    for name, configs in cases.items():
        try:
            admin.create_topics([NewTopic(name, 1, 1, topic_configs=configs)])
            out[name] = 'NoError'
        except Exception as error:
            out[name] = type(error).__name__
    try:
        admin.create_topics([NewTopic('twice', 1, 1), NewTopic('twice', 2, 1)])
        out['twice'] = 'NoError'
    except Exception as error:
        out['twice'] = type(error).__name__
    out['topics'] = sorted(admin.list_topics())
finally:
    admin.close()
print(json.dumps(out))
`;

const KAFKA_PYTHON_PRODUCE = `
import json, sys
from kafka import KafkaProducer
bootstrap, topic = sys.argv[1:3]
producer = KafkaProducer(bootstrap_servers=bootstrap, acks='all', retries=0)
out = {}
try:
    try:
        producer.send(topic, b'x' * 4000).get(timeout=20)
        out['large'] = 'NoError'
    except Exception as error:
        out['large'] = type(error).__name__
    for index in range(4):
        producer.send(topic, b'y' * 700).get(timeout=20)
    out['small'] = 4
finally:
    producer.close()
print(json.dumps(out))
`;

const CONFLUENT_CREATE = `
import json, sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({'bootstrap.servers': sys.argv[1]})
futures = admin.create_topics([NewTopic('cf-bad', 1, 1, config={'retention.ms': 'soon'}),
                               NewTopic('cf-good', 1, 1, config={'segment.ms': '3600000'})],
                              operation_timeout=10, request_timeout=20)
out = {}
for name, future in futures.items():
    error = future.exception(timeout=30)
    out[name] = None if error is None else [error.args[0].name(), error.args[0].str()]
print(json.dumps(out))
`;

test('topic configs - kafka-python creates topics with configs that apply across a restart', async () => {
  let serve = await startServe({ partitions: 1 });
  try {
    const created = await python(KAFKA_PYTHON_CREATE, [serve.bootstrap]);
    assert.equal(created.configured, 'NoError');
    assert.equal(created['unknown-name'], 'InvalidConfigurationError');
    assert.equal(created['bad-value'], 'InvalidConfigurationError');
    assert.equal(created.compacted, 'InvalidConfigurationError');
    assert.equal(created.twice, 'InvalidRequestError');
    assert.deepEqual(created.topics, ['configured'], 'nothing else was created, "twice" neither');

    const before = await python(KAFKA_PYTHON_PRODUCE, [serve.bootstrap, 'configured']);
    assert.equal(before.large, 'MessageSizeTooLargeError', 'max.message.bytes=2048 applies');
    await serve.stop();
    serve = await startServe({ dir: serve.dir, partitions: 1 });
    const after = await python(KAFKA_PYTHON_PRODUCE, [serve.bootstrap, 'configured']);
    assert.equal(after.large, 'MessageSizeTooLargeError', 'max.message.bytes still applies after a restart');
    const segments = readdirSync(path.join(serve.dir, 'configured-0')).filter((file) =>
      file.endsWith('.log'),
    );
    assert.ok(
      segments.length >= 4,
      `segment.bytes=1024 rolls a segment per ~0.8 KB batch: ${segments.join(', ')}`,
    );
  } finally {
    await serve.stop();
  }
});

test('topic configs - confluent-kafka AdminClient gets INVALID_CONFIG with a message', async () => {
  const serve = await startServe({ partitions: 1 });
  try {
    const result = await python(CONFLUENT_CREATE, [serve.bootstrap]);
    assert.equal(result['cf-good'], null);
    const [name, message] = result['cf-bad'] as [string, string];
    assert.equal(name, 'INVALID_CONFIG');
    assert.match(message, /retention\.ms/);
  } finally {
    await serve.stop();
  }
});

test('topic configs - values parse as Kafka parses them', () => {
  assert.deepEqual(
    parseTopicConfigs([
      { name: 'retention.ms', value: ' -1 ' },
      { name: 'retention.bytes', value: '0' },
      { name: 'segment.ms', value: '9223372036854775807' },
      { name: 'segment.bytes', value: '14' },
      { name: 'max.message.bytes', value: '1048588' },
    ]),
    {
      config: {
        retentionMs: Number.POSITIVE_INFINITY,
        retentionBytes: 1,
        segmentAgeMsMax: Number.POSITIVE_INFINITY,
        segmentBytesMax: 14,
        batchBytesMax: 1048588,
      },
    },
  );
  for (const [name, value] of [
    ['segment.bytes', '13'],
    ['segment.bytes', '2147483648'],
    ['retention.ms', '-2'],
    ['retention.ms', '1.5'],
    ['max.message.bytes', '0'],
    ['min.insync.replicas', '2'],
    ['cleanup.policy', 'compact,delete'],
  ] as const) {
    assert.ok('error' in parseTopicConfigs([{ name, value }]), `${name}=${value} is refused`);
  }
  assert.ok('error' in parseTopicConfigs([{ name: 'retention.ms', value: null }]));
});
