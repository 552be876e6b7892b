import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { eventually, spawnChild } from '@herald/test-support';
import {
  ConfigurationError,
  DEAD_LETTER_HEADERS,
  memoryIdempotencyStore,
  memoryTransport,
  TimeoutError,
} from '../src/index.ts';
import { createTestBus } from '../src/testing.ts';
import { GetStock, OrderCreated } from './fixtures.ts';

describe('consumers - handler timeouts, transactions, late replies, signals', { timeout: 120_000 }, () => {
  it('a handler that never settles times out, its signal aborts, and it is retried then dead-lettered', async () => {
    await using bus = createTestBus({ retry: { attempts: 2, delayMsInitial: 1, jitter: 0 } });
    const reasons: unknown[] = [];
    bus.on(OrderCreated, { group: 'stuck', timeoutMs: 30 }, async (_order, context) => {
      await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
      reasons.push(context.signal.reason);
    });
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o', total: 1 });
    await eventually(() => bus.stats().deadLettered === 1, 'the dead letter');
    const letters = await bus.deadLetters.list({ topic: 'orders' });
    assert.equal(letters[0]!.errorName, 'TimeoutError');
    assert.match(letters[0]!.errorMessage, /ran longer than 30 ms/);
    assert.equal(letters[0]!.attempts, 2);
    await eventually(() => reasons.length === 2, 'both attempts aborted');
    assert.ok(reasons.every((reason) => reason instanceof TimeoutError));
    assert.equal(bus.stats().failed, 2);
  });

  it('context.transaction without a transactional store fails with advice, and the message is retried', async () => {
    await using bus = createTestBus({ idempotency: memoryIdempotencyStore(), retry: { attempts: 1 } });
    const errors: unknown[] = [];
    bus.on(OrderCreated, { group: 'g' }, async (_order, context) => {
      try {
        await context.transaction(async () => 1);
      } catch (error) {
        errors.push(error);
        throw error;
      }
    });
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o', total: 1 });
    await eventually(() => bus.stats().deadLettered === 1, 'the dead letter');
    assert.ok(errors[0] instanceof ConfigurationError);
    assert.match((errors[0] as Error).message, /"memory" is not one/);
  });

  it('dead letters of undecodable messages are listed with their raw bytes', async () => {
    await using bus = createTestBus();
    bus.on(OrderCreated, { group: 'g' }, () => {});
    await bus.start();
    await bus.transport.publish('orders', [{ key: 'raw', headers: {}, body: new Uint8Array([1, 2, 3]) }]);
    await eventually(() => bus.stats().deadLettered === 1, 'the dead letter');
    const [letter] = await bus.deadLetters.list({ topic: 'orders' });
    assert.equal(letter!.reason, 'undecodable');
    assert.equal(letter!.envelope, undefined);
    assert.deepEqual([...letter!.message.body], [1, 2, 3]);
    assert.equal(letter!.message.headers[DEAD_LETTER_HEADERS.key], 'raw');
  });

  it('a reply arriving after its request timed out is dropped and counted', async () => {
    await using bus = createTestBus();
    const release = Promise.withResolvers<void>();
    bus.reply(GetStock, async (query) => {
      await release.promise;
      return { sku: query.sku, available: 1 };
    });
    await bus.start();
    await assert.rejects(bus.request(GetStock, { sku: 's' }, { timeoutMs: 20 }), TimeoutError);
    release.resolve();
    await eventually(() => bus.stats().lateReplies === 1, 'the late reply counted');
  });

  it('stopOnSignals drains a running handler on SIGTERM and the process exits 0', async () => {
    const child = spawnChild(process.execPath, [join(import.meta.dirname, 'fixtures', 'signal-drain.ts')]);
    await child.waitForLine(/^started 1$/, 10_000, 'the handler to start');
    const code = await child.stop();
    const output = child.output();
    assert.equal(code, 0, output);
    assert.match(output, /started 1\n[\s\S]*finished 1\n[\s\S]*stopped\n/);
    assert.match(output, /SIGTERM: draining handlers/);
  });
});

describe('consumers - shutdown details', { timeout: 120_000 }, () => {
  it('a draining handler can still publish its follow-up', async () => {
    const bus = createTestBus();
    const entered = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    let followUp: unknown;
    bus.on(OrderCreated, { group: 'g' }, async (order, context) => {
      entered.resolve();
      await release.promise;
      followUp = await context
        .publish(OrderCreated, { orderId: `${order.orderId}-next`, total: 1 })
        .catch((error) => error);
    });
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o', total: 1 });
    await entered.promise;
    const stopped = bus.stop({ timeoutMs: 5000 });
    release.resolve();
    await stopped;
    assert.equal(followUp, undefined, `the follow-up publish failed during the drain: ${String(followUp)}`);
    assert.equal(bus.publishedAll(OrderCreated).length, 2);
  });

  it('ownsTransport: false leaves a shared transport open for the other buses', async () => {
    const shared = memoryTransport();
    const first = createTestBus({ transport: shared, ownsTransport: false });
    const second = createTestBus({ transport: shared, ownsTransport: false });
    await first.start();
    await first.stop();
    await second.publish(OrderCreated, { orderId: 'still-open', total: 1 });
    await second.stop();
    await shared.close();
  });
});
