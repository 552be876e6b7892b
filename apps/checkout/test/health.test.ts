/**
 * The checkout's probes over real HTTP: ready with every service running, unready (still live)
 * while the payment service is stopped, ready again once it restarts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { samplesOf, scrapePrometheus, until } from '@herald/test-support';
import type { BusHealth } from 'herald';
import { type Checkout, startCheckout } from '../src/app.ts';
import { SERVICE_NAMES } from '../src/services/index.ts';
import { temporaryDirectory } from './helpers.ts';

let checkout: Checkout | undefined;
before(async () => {
  checkout = await startCheckout({
    dataDir: temporaryDirectory('health'),
    payment: { latencyMsMin: 1, latencyMsMax: 2 },
  });
});
after(async () => {
  await checkout?.stop();
});

async function get(path: string) {
  const response = await fetch(`${checkout!.url}${path}`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('checkout - health endpoints', { timeout: 120_000 }, () => {
  it('serves /live, /ready and /health from every bus, and follows a service stopped and started', async () => {
    assert.deepEqual(await get('/live'), { status: 200, body: { live: true } });
    assert.deepEqual(await get('/ready'), { status: 200, body: { ready: true } });
    const health = await get('/health');
    assert.equal(health.status, 200);
    const buses = health.body.buses as Record<string, BusHealth>;
    assert.deepEqual(
      Object.keys(buses).sort(),
      [...SERVICE_NAMES, ...SERVICE_NAMES.map((name) => `${name}.publisher`)].sort(),
    );
    assert.equal(buses.payment!.transport.connected, true);
    assert.ok(buses.payment!.subscriptions.every((subscription) => subscription.state === 'active'));

    await checkout!.stopService('payment');
    assert.deepEqual(await get('/ready'), { status: 503, body: { ready: false } });
    assert.equal((await get('/live')).status, 200, 'a stopped service leaves the process live');
    assert.deepEqual((await get('/health')).body.stopped, ['payment']);

    await checkout!.startService('payment');
    assert.deepEqual(await get('/ready'), { status: 200, body: { ready: true } });
  });

  it('serves /metrics: herald_* counters of every bus, and the embedded broker under kafka_exporter names', async () => {
    const response = await fetch(`${checkout!.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customerId: 'metrics-probe',
        name: 'Metrics Probe',
        email: 'metrics@example.com',
      }),
      signal: AbortSignal.timeout(10_000),
    });
    assert.ok(response.status < 300, `POST /users answered ${response.status}`);
    // The registration commits with its UserRegistered staged; the outbox relay publishes it right
    // after the answer, so the counter is polled for.
    const families = await until(
      () => scrapePrometheus(`${checkout!.url}/metrics`),
      (scraped) =>
        samplesOf(scraped, 'herald_messages_published_total', {}).some((sample) => sample.value >= 1),
      'herald_messages_published_total to count the registration',
      10_000,
      50,
    );
    assert.ok(
      samplesOf(families, 'kafka_topic_partition_current_offset', {}).length > 0,
      'the embedded broker serves kafka_topic_partition_current_offset',
    );
    assert.ok(samplesOf(families, 'kafka_consumergroup_lag', {}).length > 0, 'and kafka_consumergroup_lag');
  });
});
