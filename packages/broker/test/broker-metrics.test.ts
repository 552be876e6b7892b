/**
 * The broker's Prometheus families are bounded: past `seriesMax` a scrape leaves series out and
 * says how many in `herald_metrics_series_dropped`; a closed broker still answers a scrape.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBroker, registerBrokerMetrics, startMetricsServer } from '@herald/broker';
import { samplesOf, scrapePrometheus, temporaryDirectory } from '@herald/test-support';
import { Registry } from 'prom-client';

test('broker metrics - series past seriesMax are left out and counted; a closed broker answers with none', {
  timeout: 60_000,
}, async () => {
  const broker = await openBroker({ dir: temporaryDirectory('herald-broker-metrics-') });
  const registry = new Registry();
  const server = await startMetricsServer({ registry, port: 0 });
  try {
    await broker.createTopic('bounded-a', { partitions: 3 });
    await broker.createTopic('bounded-b', { partitions: 2 });
    registerBrokerMetrics(broker, registry, { seriesMax: 4 });
    const url = `http://127.0.0.1:${server.port}/metrics`;
    const families = await scrapePrometheus(url);
    assert.equal(samplesOf(families, 'kafka_topic_partition_current_offset').length, 4, 'the bound');
    assert.equal(
      samplesOf(families, 'kafka_topic_partitions').length,
      2,
      'one per topic, not bounded by partitions',
    );
    assert.equal(
      samplesOf(families, 'herald_metrics_series_dropped')[0]?.value,
      1,
      '5 partitions, 4 reported',
    );
    await broker.close();
    const closed = await scrapePrometheus(url);
    assert.equal(samplesOf(closed, 'kafka_brokers')[0]?.value, 0);
    assert.equal(samplesOf(closed, 'kafka_topic_partition_current_offset').length, 0);
  } finally {
    await broker.close();
    await server.close();
  }
});
