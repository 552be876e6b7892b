/**
 * `bus.health()` through a bus's life on the memory transport: created, started, a failing
 * subscribe, a transport without `health()` judged from publishes, stopped; `ConnectionHealth`
 * bookkeeping; and what the endpoints answer for each verdict.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConnectionHealth,
  combineHealth,
  createBus,
  FAILING_SOURCES_MAX,
  healthAnswer,
  memoryTransport,
  PayloadTooLargeError,
  silentLogger,
  type Transport,
  TransportError,
} from '../src/index.ts';
import { InventoryReserved, OrderCreated } from './fixtures.ts';

/** A memory transport without `health()`, whose publishes and subscribes can be made to fail. */
function flakyTransport() {
  const inner = memoryTransport();
  const faults = { publish: undefined as Error | undefined, subscribe: undefined as Error | undefined };
  const transport: Transport = {
    name: 'flaky',
    features: inner.features,
    async publish(topic, messages) {
      if (faults.publish !== undefined) throw faults.publish;
      await inner.publish(topic, messages);
    },
    async subscribe(options, handler) {
      if (faults.subscribe !== undefined) throw faults.subscribe;
      return inner.subscribe(options, handler);
    },
    close: (options) => inner.close(options),
  };
  return { transport, faults };
}

describe('bus - health', { timeout: 60_000 }, () => {
  it('follows the bus from created to started to stopped', async () => {
    const bus = createBus({ transport: memoryTransport(), logger: silentLogger });
    bus.on(InventoryReserved, { group: 'shipping' }, () => {});
    try {
      const created = bus.health();
      assert.deepEqual(
        [created.state, created.started, created.live, created.ready],
        ['created', false, true, false],
      );
      assert.deepEqual(created.subscriptions, [
        { topic: 'inventory', group: 'shipping', state: 'idle', inFlight: 0 },
      ]);
      assert.deepEqual(created.transport, { name: 'memory', reported: true, connected: true });

      await bus.start();
      const started = bus.health();
      assert.deepEqual(
        [started.state, started.started, started.live, started.ready],
        ['started', true, true, true],
      );
      assert.equal(started.subscriptions[0]!.state, 'active');
      assert.equal(started.lastError, undefined);
    } finally {
      await bus.stop();
    }
    const stopped = bus.health();
    assert.deepEqual([stopped.state, stopped.live, stopped.ready], ['stopped', false, false]);
    assert.equal(stopped.subscriptions[0]!.state, 'closed');
    assert.deepEqual([stopped.transport.connected, stopped.transport.detail], [false, 'closed']);
  });

  it('a publish-only bus is ready while its transport is connected, without start()', async () => {
    const bus = createBus({ transport: memoryTransport(), logger: silentLogger });
    try {
      await bus.publish(OrderCreated, { orderId: 'o-1', total: 1 });
      assert.deepEqual([bus.health().state, bus.health().ready], ['created', true]);
    } finally {
      await bus.stop();
    }
  });

  it('a failed subscribe makes the bus not live, with the error', async () => {
    const { transport, faults } = flakyTransport();
    faults.subscribe = new TransportError('broker says no', { retriable: true });
    const bus = createBus({ transport, logger: silentLogger });
    bus.on(InventoryReserved, { group: 'shipping' }, () => {});
    await assert.rejects(bus.start(), /broker says no/);
    const health = bus.health();
    assert.deepEqual([health.live, health.ready], [false, false]);
    assert.equal(health.subscriptions[0]!.state, 'failed');
    assert.equal(health.subscriptions[0]!.lastError?.message, 'broker says no');
    assert.equal(health.subscriptions[0]!.lastError?.source, 'subscribe inventory/shipping');
    assert.equal(health.lastError?.message, 'broker says no');
  });

  it('without transport.health(), a failed publish marks it disconnected until a publish succeeds', async () => {
    const { transport, faults } = flakyTransport();
    const bus = createBus({ transport, logger: silentLogger });
    bus.on(InventoryReserved, { group: 'shipping' }, () => {});
    try {
      await bus.start();
      assert.deepEqual([bus.health().transport.reported, bus.health().ready], [false, true]);

      faults.publish = new TransportError('connection reset', { retriable: true });
      await assert.rejects(bus.publish(InventoryReserved, { orderId: 'o-1' }), /connection reset/);
      const down = bus.health();
      assert.deepEqual([down.transport.connected, down.ready, down.live], [false, false, true]);
      assert.match(down.lastError?.source ?? '', /^publish inventory/);

      faults.publish = undefined;
      await bus.publish(InventoryReserved, { orderId: 'o-2' });
      const up = bus.health();
      assert.deepEqual([up.transport.connected, up.ready], [true, true]);
      assert.equal(up.lastError?.message, 'connection reset', 'the last error is kept after recovery');

      // A message too large says nothing about the connection.
      faults.publish = new PayloadTooLargeError('inventory', 10, 1);
      await assert.rejects(bus.publish(InventoryReserved, { orderId: 'o-3' }));
      assert.equal(bus.health().transport.connected, true);
    } finally {
      await bus.stop();
    }
  });

  it('ConnectionHealth: down while any source fails, up once each recovered; bounded', () => {
    const health = new ConnectionHealth();
    assert.deepEqual(health.report(), { connected: true });
    health.failed('produce', new Error('refused'));
    health.failed('fetch t/g', new Error('timeout'));
    assert.equal(health.report().connected, false);
    assert.match(health.report().detail!, /produce, fetch t\/g/);
    health.recovered('produce');
    assert.equal(health.report().connected, false);
    health.recovered('fetch t/g');
    const up = health.report();
    assert.equal(up.connected, true);
    assert.deepEqual([up.lastError?.message, up.lastError?.source], ['timeout', 'fetch t/g']);
    assert.equal(health.report(true).connected, false, 'closed is never connected');

    for (let index = 0; index < FAILING_SOURCES_MAX + 10; index += 1) health.failed(`s${index}`, 'x');
    assert.match(health.report().detail!, /\(\+\d+\)/);
    health.recovered('s0');
    assert.equal(health.report().connected, false, 'the named sources still fail');
  });

  it('the endpoints: 200 or 503 per verdict, the whole report on /health', () => {
    const verdict = { live: true, ready: false, extra: 1 };
    assert.deepEqual(healthAnswer('/live', verdict), {
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: '{"live":true}',
    });
    assert.equal(healthAnswer('/ready', verdict)?.status, 503);
    assert.deepEqual(JSON.parse(healthAnswer('/health', verdict)!.body), verdict);
    assert.equal(healthAnswer('/health', verdict)?.status, 503);
    assert.equal(healthAnswer('/metrics', verdict), undefined);
    assert.deepEqual(combineHealth({}).ready, false, 'no bus: not ready');
  });
});
