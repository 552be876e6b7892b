/**
 * The Kafka transport creates `herald.services` (the buses' announcements) with a day's retention
 * and hourly segments, so announcements do not pile up forever; other topics get the broker's
 * defaults. Checked in the data directory of the `herald serve` it ran on (whose DescribeConfigs
 * answers the broker's defaults, not a topic's settings).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBroker } from '@herald/broker';
import {
  createBus,
  SERVICES_TOPIC,
  SERVICES_TOPIC_RETENTION_MS,
  SERVICES_TOPIC_SEGMENT_MS,
  silentLogger,
} from '@herald/bus';
import { startServe, temporaryDirectory } from '@herald/test-support';
import { kafkaTransport } from '../src/index.ts';

test('kafka transport - herald.services is created with a day of retention', {
  timeout: 90_000,
}, async () => {
  const serve = await startServe({ dir: temporaryDirectory('herald-kafka-services-'), partitions: 1 });
  const transport = await kafkaTransport({
    brokers: [serve.bootstrap],
    clientId: 'services-topic',
    lingerMs: 1,
  });
  try {
    const bus = createBus({ transport, logger: silentLogger, ownsTransport: false });
    await bus.start();
    await transport.publish('plain', [{ key: 'k', headers: {}, body: new Uint8Array([1]) }]);
    await bus.stop();
    await transport.close();
    await serve.stop();
    const broker = await openBroker({ dir: serve.dir });
    try {
      assert.deepEqual((await broker.describeTopic(SERVICES_TOPIC)).config, {
        retentionMs: SERVICES_TOPIC_RETENTION_MS,
        segmentAgeMsMax: SERVICES_TOPIC_SEGMENT_MS,
      });
      assert.deepEqual((await broker.describeTopic('plain')).config, {});
    } finally {
      await broker.close();
    }
  } finally {
    await transport.close();
    await serve.stop();
  }
});
