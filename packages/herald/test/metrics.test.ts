/**
 * `prometheusMetrics()` and `serveMetrics()` for a bus on the embedded broker: `/metrics` parsed by
 * the Prometheus project's Python parser carries kafka_exporter's names and labels for the broker
 * (offsets, consumer lag in messages and seconds, members) and the `herald_*` bus metrics; a
 * group's lag rises while its handler is held and falls to 0 once it runs again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type PrometheusFamily,
  samplesOf,
  scrapePrometheus,
  temporaryDirectory,
  until,
} from '@herald/test-support';
import { createBus, defineEvent, prometheusMetrics, serveMetrics, silentLogger } from 'herald';
import { z } from 'zod';
import { checkDashboard } from './grafana-dashboard.ts';

const Ordered = defineEvent('metrics.Ordered', {
  topic: 'metrics-orders',
  schema: z.object({ n: z.number() }),
  key: (order) => String(order.n),
});
const Broken = defineEvent('metrics.Broken', {
  topic: 'metrics-broken',
  schema: z.object({ n: z.number() }),
});

const MESSAGES = 10;
/** Each scrape runs the Python parser (tens of ms): poll gently. */
const SCRAPE_INTERVAL_MS = 200;

const sum = (families: readonly PrometheusFamily[], name: string, labels: Record<string, string>) =>
  samplesOf(families, name, labels).reduce((total, sample) => total + sample.value, 0);

test('herald metrics - embedded bus: kafka_exporter names, herald_* metrics, lag rises while held and falls to 0', {
  timeout: 120_000,
}, async () => {
  const dir = temporaryDirectory('herald-metrics-');
  const metrics = prometheusMetrics();
  const bus = createBus({
    embedded: { dir, partitions: 2 },
    metrics: metrics.bus,
    logger: silentLogger,
    retry: { attempts: 2, delayMsInitial: 10, delayMsMax: 10 },
  });
  metrics.addBroker(bus);
  const server = await serveMetrics({ metrics, port: 0 });
  const url = `http://127.0.0.1:${server.port}/metrics`;
  const held = Promise.withResolvers<void>();
  try {
    bus.on(Ordered, { group: 'billing' }, () => held.promise);
    bus.on(Broken, { group: 'auditor' }, () => {
      throw new Error('always fails');
    });
    // Scraping before the broker opened answers: no broker yet, no topic or group series.
    const empty = await scrapePrometheus(url);
    assert.equal(sum(empty, 'kafka_brokers', {}), 0);
    assert.equal(samplesOf(empty, 'kafka_topic_partitions').length, 0);
    await bus.start();
    for (let n = 0; n < MESSAGES; n += 1) await bus.publish(Ordered, { n });
    await bus.publish(Broken, { n: 0 });

    const topic = { topic: 'metrics-orders' };
    const billing = { consumergroup: 'billing', topic: 'metrics-orders' };
    const whileHeld = await until(
      () => scrapePrometheus(url),
      (families) =>
        sum(families, 'kafka_consumergroup_lag', billing) === MESSAGES &&
        sum(families, 'herald_messages_dead_lettered_total', { topic: 'metrics-broken' }) === 1,
      'lag of billing to reach 10 and the broken message to be dead-lettered',
      30_000,
      SCRAPE_INTERVAL_MS,
    );
    assert.equal(sum(whileHeld, 'kafka_brokers', {}), 1);
    assert.equal(sum(whileHeld, 'kafka_topic_partitions', topic), 2);
    for (const partition of ['0', '1']) {
      for (const name of [
        'kafka_topic_partition_current_offset',
        'kafka_topic_partition_oldest_offset',
        'kafka_topic_partition_leader',
        'kafka_topic_partition_replicas',
        'kafka_topic_partition_in_sync_replica',
        'kafka_topic_partition_under_replicated_partition',
      ]) {
        assert.equal(
          samplesOf(whileHeld, name, { ...topic, partition }).length,
          1,
          `${name} partition ${partition}`,
        );
      }
      assert.equal(samplesOf(whileHeld, 'kafka_consumergroup_lag', { ...billing, partition }).length, 1);
      assert.equal(
        samplesOf(whileHeld, 'kafka_consumergroup_current_offset', { ...billing, partition }).length,
        1,
      );
    }
    assert.equal(sum(whileHeld, 'kafka_topic_partition_current_offset', topic), MESSAGES);
    assert.equal(sum(whileHeld, 'kafka_topic_partition_oldest_offset', topic), 0);
    assert.equal(sum(whileHeld, 'kafka_consumergroup_lag_sum', billing), MESSAGES);
    assert.equal(sum(whileHeld, 'kafka_consumergroup_members', { consumergroup: 'billing' }), 1);
    const lagSeconds = samplesOf(whileHeld, 'herald_consumergroup_lag_seconds', billing);
    assert.ok(
      lagSeconds.some((sample) => sample.value > 0),
      'a lagging partition has an age',
    );
    assert.ok(
      lagSeconds.every((sample) => sample.value < 60),
      'ages are of this test',
    );
    assert.equal(
      sum(whileHeld, 'herald_handlers_in_flight', { topic: 'metrics-orders', group: 'billing' }),
      1,
    );
    assert.equal(
      sum(whileHeld, 'herald_messages_published_total', { topic: 'metrics-orders', type: 'metrics.Ordered' }),
      MESSAGES,
    );
    assert.equal(sum(whileHeld, 'herald_publish_duration_seconds_count', topic), MESSAGES);
    const auditor = { topic: 'metrics-broken', group: 'auditor' };
    assert.equal(sum(whileHeld, 'herald_messages_failed_total', { ...auditor, type: 'metrics.Broken' }), 2);
    assert.equal(sum(whileHeld, 'herald_messages_retried_total', auditor), 1);
    assert.equal(
      sum(whileHeld, 'herald_messages_dead_lettered_total', { ...auditor, reason: 'retries-exhausted' }),
      1,
    );
    assert.equal(
      sum(whileHeld, 'herald_handler_duration_seconds_count', { ...auditor, outcome: 'failed' }),
      2,
    );
    assert.ok(samplesOf(whileHeld, 'herald_handler_duration_seconds_bucket', { le: '+Inf' }).length > 0);

    held.resolve();
    const drained = await until(
      () => scrapePrometheus(url),
      (families) => sum(families, 'kafka_consumergroup_lag', billing) === 0,
      'lag of billing to fall to 0 once its handler runs again',
      30_000,
      SCRAPE_INTERVAL_MS,
    );
    assert.equal(sum(drained, 'kafka_consumergroup_current_offset', billing), MESSAGES);
    assert.equal(sum(drained, 'herald_consumergroup_lag_seconds', billing), 0);
    assert.equal(
      sum(drained, 'herald_messages_handled_total', {
        topic: 'metrics-orders',
        group: 'billing',
        type: 'metrics.Ordered',
      }),
      MESSAGES,
    );
    assert.equal(sum(drained, 'herald_handlers_in_flight', { topic: 'metrics-orders', group: 'billing' }), 0);
    // The shipped Grafana dashboard queries only what this endpoint serves.
    assert.ok(checkDashboard(drained) >= 10);
    const notFound = await fetch(`http://127.0.0.1:${server.port}/other`, {
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(notFound.status, 404);
    await notFound.body?.cancel();
  } finally {
    held.resolve();
    await bus.stop();
    await server.close();
  }
});
