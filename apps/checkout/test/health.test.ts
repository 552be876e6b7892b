/**
 * The checkout's probes over real HTTP: ready with every service running, unready (still live)
 * while the payment service is stopped, ready again once it restarts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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
});
