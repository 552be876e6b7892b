/**
 * `herald serve --metrics-port`: `/metrics`, parsed by the Prometheus project's Python parser, has
 * kafka_exporter's names and labels for topics and for a real Kafka client's consumer group
 * (@platformatic/kafka, committing by hand), and that group's lag rises while the consumer holds
 * its messages and falls to 0 once it goes on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type PrometheusFamily,
  samplesOf,
  scrapePrometheus,
  startServe,
  temporaryDirectory,
  until,
  withDeadline,
} from '@herald/test-support';
import {
  Admin,
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';

const TOPIC = 'metrics-kafka';
const GROUP = 'metrics-plt';
const BATCH = 10;
/** Each scrape runs the Python parser (tens of ms): poll gently. */
const SCRAPE_INTERVAL_MS = 200;

const sum = (families: readonly PrometheusFamily[], name: string, labels: Record<string, string>) =>
  samplesOf(families, name, labels).reduce((total, sample) => total + sample.value, 0);

test('cli metrics - herald serve --metrics-port: kafka_exporter names; a Kafka group lag rises while held, falls to 0', {
  timeout: 180_000,
}, async () => {
  const serve = await startServe({
    dir: temporaryDirectory('herald-cli-metrics-'),
    partitions: 2,
    args: ['--metrics-port', '0'],
    env: { NO_COLOR: '', HERALD_BROKER: '', HERALD_DATA_DIR: '' },
  });
  const closers: (() => Promise<unknown>)[] = [];
  const held = Promise.withResolvers<void>();
  try {
    const [, metricsPort] = await serve.child.waitForLine(/metrics on http:\/\/\S+:(\d+)\/metrics/, 10_000);
    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    const bootstrapBrokers = [serve.bootstrap];
    const admin = new Admin({ clientId: 'metrics-admin', bootstrapBrokers });
    closers.push(() => admin.close());
    await admin.createTopics({ topics: [TOPIC], partitions: 2, replicas: 1 });
    await admin.close();
    const producer = new Producer({
      clientId: 'metrics-producer',
      bootstrapBrokers,
      serializers: stringSerializers,
    });
    closers.push(() => producer.close());
    const produce = (from: number) =>
      producer.send({
        messages: Array.from({ length: BATCH }, (_, index) => ({
          topic: TOPIC,
          key: `k${from + index}`,
          value: `v${from + index}`,
        })),
      });
    await produce(0);

    const consumer = new Consumer({
      groupId: GROUP,
      clientId: 'metrics-consumer',
      bootstrapBrokers,
      deserializers: stringDeserializers,
    });
    closers.push(() => consumer.close(true));
    const stream = await consumer.consume({
      topics: [TOPIC],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 500,
    });
    closers.push(() => stream.close());
    let committed = 0;
    // The consumer commits each message it handles; after the first batch it holds the next one
    // (an application stuck on a message) until `held` resolves, so its group's lag must grow.
    const consuming = (async () => {
      for await (const message of stream) {
        if (committed === BATCH) await held.promise;
        await message.commit();
        committed += 1;
        if (committed === 2 * BATCH) break;
      }
    })();
    consuming.catch(() => {}); // awaited below; a failure before then must not be unhandled

    const group = { consumergroup: GROUP, topic: TOPIC };
    const caughtUp = await until(
      () => scrapePrometheus(url),
      (families) =>
        committed === BATCH && sum(families, 'kafka_consumergroup_current_offset_sum', group) === BATCH,
      'the consumer to commit the first batch',
      60_000,
      SCRAPE_INTERVAL_MS,
    );
    assert.equal(sum(caughtUp, 'kafka_consumergroup_lag', group), 0);
    assert.equal(sum(caughtUp, 'kafka_brokers', {}), 1);
    assert.equal(sum(caughtUp, 'kafka_topic_partitions', { topic: TOPIC }), 2);
    for (const partition of ['0', '1']) {
      const labels = { topic: TOPIC, partition };
      assert.equal(samplesOf(caughtUp, 'kafka_topic_partition_current_offset', labels).length, 1);
      assert.equal(samplesOf(caughtUp, 'kafka_topic_partition_oldest_offset', labels).length, 1);
      assert.equal(samplesOf(caughtUp, 'kafka_consumergroup_lag', { ...group, partition }).length, 1);
      assert.equal(
        samplesOf(caughtUp, 'kafka_consumergroup_current_offset', { ...group, partition }).length,
        1,
      );
    }
    assert.equal(sum(caughtUp, 'kafka_topic_partition_current_offset', { topic: TOPIC }), BATCH);

    await produce(BATCH);
    const whileHeld = await until(
      () => scrapePrometheus(url),
      (families) => sum(families, 'kafka_consumergroup_lag', group) === BATCH,
      'lag to reach 10 while the consumer holds its messages',
      60_000,
      SCRAPE_INTERVAL_MS,
    );
    assert.equal(sum(whileHeld, 'kafka_consumergroup_lag_sum', group), BATCH);
    assert.equal(sum(whileHeld, 'kafka_consumergroup_members', { consumergroup: GROUP }), 1);
    assert.ok(
      samplesOf(whileHeld, 'herald_consumergroup_lag_seconds', group).some((sample) => sample.value > 0),
      'a lagging partition has an age in seconds',
    );

    held.resolve();
    await withDeadline(consuming, 60_000, 'the consumer to commit the second batch');
    const drained = await until(
      () => scrapePrometheus(url),
      (families) => sum(families, 'kafka_consumergroup_lag', group) === 0,
      'lag to fall to 0 once the consumer goes on',
      60_000,
      SCRAPE_INTERVAL_MS,
    );
    assert.equal(sum(drained, 'kafka_consumergroup_current_offset_sum', group), 2 * BATCH);
    assert.equal(sum(drained, 'herald_consumergroup_lag_seconds', group), 0);
  } finally {
    held.resolve();
    for (const close of closers.reverse()) {
      await withDeadline(Promise.resolve().then(close), 10_000, 'a client to close').catch(() => {});
    }
    assert.equal(await serve.stop(), 0, `herald serve exit code:\n${serve.output()}`);
  }
});
