import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quiet } from '@herald/conformance';
import { eventually } from '@herald/test-support';
import { z } from 'zod';
import {
  ClosedError,
  type CloseOptions,
  ConfigurationError,
  consoleLogger,
  createBus,
  DEAD_LETTER_HEADERS,
  defineEvent,
  encodeEnvelope,
  type Logger,
  memoryTransport,
  type ReceivedMessage,
  RemoteError,
  silentLogger,
  TimeoutError,
  type Transport,
  UnrecoverableError,
  uuidv7,
} from '../src/index.ts';
import { createTestBus } from '../src/testing.ts';
import { countdown, GetStock, InventoryReserved, OrderCreated, ReserveInventory } from './fixtures.ts';

/** Subscribes a raw reader to a dead-letter topic and returns what arrives. */
async function readTopic(transport: Transport, topic: string): Promise<ReceivedMessage[]> {
  const received: ReceivedMessage[] = [];
  await transport.subscribe({ topic, group: `reader-${uuidv7()}`, inFlightMax: 16 }, async (message) => {
    received.push(message);
    await message.ack();
  });
  return received;
}

const fastRetry = { delayMsInitial: 1, delayMsMax: 5, jitter: 0 };

describe('bus - events, commands and queries', { timeout: 120_000 }, () => {
  it('an event reaches every group once, typed and validated', async () => {
    await using bus = createTestBus();
    const seen: string[] = [];
    const both = countdown(2);
    bus.on(OrderCreated, { group: 'inventory' }, (order) => {
      seen.push(`inventory:${order.orderId}:${order.items.length}`);
      both.hit();
    });
    bus.on(OrderCreated, { group: 'notification' }, (order, context) => {
      seen.push(`notification:${order.orderId}:${context.envelope.source}`);
      both.hit();
    });
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o-1', total: 10 });
    await both.done;
    assert.deepEqual(seen.sort(), ['inventory:o-1:0', `notification:o-1:${bus.source}`]);
  });

  it('causation and correlation ids propagate across two hops', async () => {
    await using bus = createTestBus();
    bus.on(OrderCreated, { group: 'inventory' }, async (order, context) => {
      await context.send(ReserveInventory, { orderId: order.orderId });
    });
    bus.handle(ReserveInventory, async (command, context) => {
      await context.publish(InventoryReserved, { orderId: command.orderId });
    });
    await bus.start();
    const first = await bus.publish(
      OrderCreated,
      { orderId: 'o-2', total: 5 },
      { traceparent: '00-abc-def-01' },
    );
    const command = await bus.published(ReserveInventory);
    const reserved = await bus.published(InventoryReserved);
    assert.equal(first.correlationid, first.id, 'a flow starts with correlation = own id');
    assert.equal(command.correlationid, first.id);
    assert.equal(command.causationid, first.id);
    assert.equal(command.traceparent, '00-abc-def-01');
    assert.equal(reserved.correlationid, first.id);
    assert.equal(reserved.causationid, command.id);
    assert.equal(reserved.partitionkey, 'o-2');
  });

  it('a command has exactly one handler per bus', () => {
    const bus = createTestBus();
    bus.handle(ReserveInventory, () => {});
    assert.throws(() => bus.handle(ReserveInventory, () => {}), /already has a handler for the command/);
  });

  it('request/reply returns the validated result; handler errors and timeouts reject', async () => {
    await using bus = createTestBus();
    bus.reply(GetStock, (query) => {
      if (query.sku === 'boom') throw new UnrecoverableError('warehouse offline');
      return { sku: query.sku, available: query.sku.length };
    });
    await bus.start();
    assert.deepEqual(await bus.request(GetStock, { sku: 'abc' }), { sku: 'abc', available: 3 });
    await assert.rejects(bus.request(GetStock, { sku: 'boom' }), (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteName, 'UnrecoverableError');
      assert.match(error.message, /warehouse offline/);
      return true;
    });
    await using lonely = createTestBus();
    await assert.rejects(lonely.request(GetStock, { sku: 'x' }, { timeoutMs: 50 }), TimeoutError);
  });

  it('misuse fails fast: no transport, wrong contract kind, handler after start, publish after stop', async () => {
    assert.throws(() => createBus(undefined as never), /no transport/);
    const bus = createTestBus();
    await assert.rejects(
      bus.publish(ReserveInventory as never, { orderId: 'x' } as never),
      ConfigurationError,
    );
    assert.throws(() => bus.on(OrderCreated, undefined as never, () => {}), /pass \{ group/);
    assert.throws(() => bus.on(OrderCreated, { group: 'bad group' }, () => {}), /invalid group/);
    await bus.start();
    assert.throws(() => bus.on(OrderCreated, { group: 'late' }, () => {}), /before bus.start/);
    await bus.stop();
    await bus.stop();
    await assert.rejects(bus.publish(OrderCreated, { orderId: 'o', total: 1 }), ClosedError);
  });

  it('two different contracts with one type are refused', async () => {
    const Impostor = defineEvent('OrderCreated', { topic: 'orders', schema: z.object({}) });
    await using bus = createTestBus();
    await bus.publish(OrderCreated, { orderId: 'o', total: 1 });
    await assert.rejects(bus.publish(Impostor, {}), /two different contracts have type "OrderCreated"/);
  });
});

describe('bus - bad input is dead-lettered with a reason, never dropped', { timeout: 120_000 }, () => {
  it('an undecodable message goes to <topic>.dlq with its reason and the consumer keeps going', async () => {
    await using bus = createTestBus();
    const handled = countdown(1);
    bus.on(OrderCreated, { group: 'inventory' }, () => handled.hit());
    await bus.start();
    const deadLetters = await readTopic(bus.transport, 'orders.dlq');
    await bus.transport.publish('orders', [
      { headers: { 'content-type': 'application/json' }, body: new Uint8Array([123]) },
    ]);
    await bus.publish(OrderCreated, { orderId: 'after', total: 1 });
    await handled.done;
    await eventually(() => deadLetters.length === 1, 'one dead letter');
    const headers = deadLetters[0]!.headers;
    assert.equal(headers[DEAD_LETTER_HEADERS.reason], 'undecodable');
    assert.equal(headers[DEAD_LETTER_HEADERS.group], 'inventory');
    assert.equal(headers[DEAD_LETTER_HEADERS.topic], 'orders');
    assert.equal(headers[DEAD_LETTER_HEADERS.errorName], 'DecodeError');
    assert.match(headers[DEAD_LETTER_HEADERS.errorMessage]!, /no CloudEvents "id" attribute/);
    assert.deepEqual([...deadLetters[0]!.body], [123]);
  });

  it('a consumed message failing its schema is dead-lettered as invalid, without retries', async () => {
    await using bus = createTestBus();
    let calls = 0;
    bus.on(OrderCreated, { group: 'inventory' }, () => {
      calls += 1;
    });
    await bus.start();
    const deadLetters = await readTopic(bus.transport, 'orders.dlq');
    const forged = encodeEnvelope({
      specversion: '1.0',
      id: uuidv7(),
      source: '/forger',
      type: 'OrderCreated',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      dataversion: 1,
      extensions: {},
      data: { orderId: 42 },
    });
    await bus.transport.publish('orders', [forged]);
    await eventually(() => deadLetters.length === 1, 'one dead letter');
    assert.equal(calls, 0);
    assert.equal(deadLetters[0]!.headers[DEAD_LETTER_HEADERS.reason], 'invalid');
    assert.match(deadLetters[0]!.headers[DEAD_LETTER_HEADERS.errorMessage]!, /orderId/);
    assert.equal(deadLetters[0]!.headers[DEAD_LETTER_HEADERS.attempts], '1');
  });

  it('an unknown event type goes to onUnknown (default dead-letter; "ignore" acks)', async () => {
    for (const onUnknown of ['dead-letter', 'ignore'] as const) {
      await using bus = createTestBus({ onUnknown });
      const handled = countdown(1);
      bus.on(OrderCreated, { group: 'g' }, () => handled.hit());
      await bus.start();
      const deadLetters = await readTopic(bus.transport, 'orders.dlq');
      const Mystery = defineEvent('OrderTeleported', { topic: 'orders', schema: z.object({}) });
      await createBus({ transport: bus.transport }).publish(Mystery, {});
      await bus.publish(OrderCreated, { orderId: 'o', total: 1 });
      await handled.done;
      if (onUnknown === 'dead-letter') {
        await eventually(() => deadLetters.length === 1, 'the unknown type dead-lettered');
        assert.equal(deadLetters[0]!.headers[DEAD_LETTER_HEADERS.reason], 'unknown-type');
        assert.match(deadLetters[0]!.headers[DEAD_LETTER_HEADERS.errorMessage]!, /OrderTeleported/);
      } else {
        // Give a dead letter, had one been published, its window to arrive before checking.
        await quiet(() => deadLetters.length, 'the dead-letter reader');
        assert.equal(deadLetters.length, 0);
      }
    }
  });

  it('a failing handler is retried with backoff, then dead-lettered with its error after the last attempt', async () => {
    await using bus = createTestBus({ retry: { ...fastRetry, attempts: 3 } });
    const attempts: number[] = [];
    bus.on(OrderCreated, { group: 'flaky' }, (_order, context) => {
      attempts.push(context.attempt);
      throw new Error('database down');
    });
    await bus.start();
    const deadLetters = await readTopic(bus.transport, 'orders.dlq');
    await bus.publish(OrderCreated, { orderId: 'o-9', total: 1 });
    await eventually(() => deadLetters.length === 1, 'the dead letter');
    assert.deepEqual(attempts, [1, 2, 3]);
    const headers = deadLetters[0]!.headers;
    assert.equal(headers[DEAD_LETTER_HEADERS.reason], 'retries-exhausted');
    assert.equal(headers[DEAD_LETTER_HEADERS.attempts], '3');
    assert.equal(headers[DEAD_LETTER_HEADERS.errorMessage], 'database down');
    assert.match(headers[DEAD_LETTER_HEADERS.errorStack]!, /database down/);
    assert.equal(headers.ce_type, 'OrderCreated', 'the original CloudEvents headers are kept');
  });

  it('a retry that succeeds is not dead-lettered', async () => {
    await using bus = createTestBus({ retry: fastRetry });
    const done = countdown(1);
    bus.on(OrderCreated, { group: 'g' }, (_order, context) => {
      if (context.attempt < 2) throw new Error('transient');
      done.hit();
    });
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o', total: 1 });
    await done.done;
  });
});

describe('bus - versions', { timeout: 120_000 }, () => {
  it('an upcaster turns a v1 payload into v2 on consume', async () => {
    const schemaV1 = z.object({ orderId: z.string(), amountCents: z.number().int() });
    const V1 = defineEvent('PriceSet', { topic: 'prices', schema: schemaV1 });
    const V2 = defineEvent('PriceSet', {
      topic: 'prices',
      version: 2,
      schema: z.object({
        orderId: z.string(),
        amount: z.object({ value: z.number(), currency: z.string() }),
      }),
      upcasters: {
        1: (old: z.infer<typeof schemaV1>) => ({
          orderId: old.orderId,
          amount: { value: old.amountCents / 100, currency: 'EUR' },
        }),
      },
    });
    const transport = memoryTransport();
    const producer = createBus({ transport });
    await using consumer = createTestBus({ transport });
    const received: unknown[] = [];
    const done = countdown(2);
    consumer.on(V2, { group: 'billing' }, (price, context) => {
      received.push({ price, version: context.envelope.dataversion });
      done.hit();
    });
    await consumer.start();
    await producer.publish(V1, { orderId: 'o-1', amountCents: 1250 });
    await consumer.publish(V2, { orderId: 'o-2', amount: { value: 3, currency: 'USD' } });
    await done.done;
    assert.deepEqual(received, [
      { price: { orderId: 'o-1', amount: { value: 12.5, currency: 'EUR' } }, version: 1 },
      { price: { orderId: 'o-2', amount: { value: 3, currency: 'USD' } }, version: 2 },
    ]);
  });
});

describe('bus - stop drains', { timeout: 120_000 }, () => {
  it('stop() waits for running handlers, then closes; a handler past the deadline sees its signal abort', async () => {
    const bus = createTestBus();
    let finished = false;
    let entered: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      entered = resolve;
    });
    bus.on(OrderCreated, { group: 'slow' }, async () => {
      entered();
      await new Promise((resolve) => setTimeout(resolve, 100));
      finished = true;
    });
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o', total: 1 });
    await running;
    await bus.stop({ timeoutMs: 5000 });
    assert.ok(finished, 'stop() returned before the running handler finished');

    const stuck = createTestBus();
    let aborted = false;
    let stuckEntered: () => void = () => {};
    const stuckRunning = new Promise<void>((resolve) => {
      stuckEntered = resolve;
    });
    stuck.on(OrderCreated, { group: 'stuck' }, async (_order, context) => {
      stuckEntered();
      await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
      aborted = true;
    });
    await stuck.start();
    await stuck.publish(OrderCreated, { orderId: 'o', total: 1 });
    await stuckRunning;
    await stuck.stop({ timeoutMs: 20 });
    assert.ok(aborted, 'the handler signal was not aborted at the deadline');
  });
});

describe('bus - stop waits for acks', { timeout: 120_000 }, () => {
  it("stop() waits for a handled message's ack to settle (its position stored) before closing", async () => {
    // A transport whose acks settle 100 ms late, as a broker's do behind a group commit.
    const inner = memoryTransport();
    const events: string[] = [];
    const transport: Transport = {
      name: inner.name,
      features: inner.features,
      publish: (topic, messages) => inner.publish(topic, messages),
      subscribe: async (options, handler) => {
        const subscription = await inner.subscribe(options, (message) =>
          handler({
            ...message,
            ack: async () => {
              await new Promise((resolve) => setTimeout(resolve, 100));
              await message.ack();
              events.push('ack settled');
            },
          }),
        );
        return {
          close: (closeOptions) => {
            events.push('subscription closed');
            return subscription.close(closeOptions);
          },
        };
      },
      close: (options) => inner.close(options),
    };
    const bus = createBus({ transport, source: '/test' });
    const handled = countdown(1);
    bus.on(OrderCreated, { group: 'g' }, () => handled.hit());
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o', total: 1 });
    await handled.done;
    await bus.stop({ timeoutMs: 5_000 });
    assert.deepEqual(events, ['ack settled', 'subscription closed']);
  });
});

describe('bus - stop passes its timeout to the closes', { timeout: 120_000 }, () => {
  /** A memory transport that records what each close() of it and of its subscriptions was given. */
  function recordingTransport() {
    const inner = memoryTransport();
    const closes: (CloseOptions | undefined)[] = [];
    const subscriptionCloses: (CloseOptions | undefined)[] = [];
    const transport: Transport = {
      name: inner.name,
      features: inner.features,
      publish: (topic, messages) => inner.publish(topic, messages),
      subscribe: async (options, handler) => {
        const subscription = await inner.subscribe(options, handler);
        return {
          close: (closeOptions) => {
            subscriptionCloses.push(closeOptions);
            return subscription.close(closeOptions);
          },
        };
      },
      close: (options) => {
        closes.push(options);
        return inner.close(options);
      },
    };
    return { transport, closes, subscriptionCloses };
  }

  /** Whether every close got a timeout in (0, `boundMs`]. */
  function within(closes: readonly (CloseOptions | undefined)[], boundMs: number): boolean {
    return closes.every((options) => {
      const timeoutMs = options?.timeoutMs;
      return timeoutMs !== undefined && timeoutMs > 0 && timeoutMs <= boundMs;
    });
  }

  it('stop({ timeoutMs }) gives the subscriptions and the transport what is left of it, never more', async () => {
    const { transport, closes, subscriptionCloses } = recordingTransport();
    const bus = createBus({ transport, source: '/test' });
    bus.on(OrderCreated, { group: 'g' }, () => {});
    bus.on(InventoryReserved, { group: 'g' }, () => {});
    await bus.start();
    await bus.stop({ timeoutMs: 3_000 });
    assert.equal(closes.length, 1);
    assert.equal(subscriptionCloses.length, 2, 'one subscription per topic and group');
    assert.ok(
      within([...closes, ...subscriptionCloses], 3_000),
      JSON.stringify({ closes, subscriptionCloses }),
    );
  });

  it('stop() after handlers overran its timeout still gives the closes up to 1 s (a last commit)', async () => {
    const { transport, closes, subscriptionCloses } = recordingTransport();
    const bus = createBus({ transport, source: '/test' });
    let entered: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      entered = resolve;
    });
    bus.on(OrderCreated, { group: 'stuck' }, async (_order, context) => {
      entered();
      await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
    });
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o', total: 1 });
    await running;
    await bus.stop({ timeoutMs: 20 });
    assert.equal(closes.length, 1);
    assert.equal(subscriptionCloses.length, 1);
    assert.ok(
      within([...closes, ...subscriptionCloses], 1_000),
      JSON.stringify({ closes, subscriptionCloses }),
    );
  });

  it('stop() with ownsTransport: false leaves the transport open', async () => {
    const { transport, closes } = recordingTransport();
    const bus = createBus({ transport, source: '/test', ownsTransport: false });
    await bus.start();
    await bus.stop({ timeoutMs: 1_000 });
    assert.deepEqual(closes, []);
    await transport.close();
  });
});

describe('bus - logging middleware', { timeout: 120_000 }, () => {
  /** A logger that records entries; `debugEnabled` undefined leaves `isLevelEnabled` out (like console). */
  function recordingLogger(debugEnabled: boolean | undefined) {
    const entries: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
    const at =
      (level: string) =>
      (fields: Readonly<Record<string, unknown>>, message: string): void => {
        entries.push({ level, message, fields: { ...fields } });
      };
    const logger: Logger = {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      ...(debugEnabled === undefined
        ? {}
        : { isLevelEnabled: (level: string) => level !== 'debug' || debugEnabled }),
    };
    return { logger, entries };
  }

  async function handleTwo(debugEnabled: boolean | undefined) {
    const { logger, entries } = recordingLogger(debugEnabled);
    const bus = createBus({ transport: memoryTransport(), source: '/test', logger, retry: { attempts: 1 } });
    const done = countdown(2);
    bus.on(InventoryReserved, { group: 'logged' }, (event) => {
      done.hit();
      if (event.orderId === 'bad') throw new Error('boom');
    });
    await bus.start();
    await bus.publish(InventoryReserved, { orderId: 'good' });
    await bus.publish(InventoryReserved, { orderId: 'bad' });
    await done.done;
    await eventually(() => entries.some((entry) => entry.message === 'handler failed'), 'the warning');
    await bus.stop();
    return entries;
  }

  const coordinates = ['type', 'id', 'group', 'topic', 'partition', 'offset', 'attempt'];

  it('logs debug per handled message unless the logger says debug is off; failures always warn', async () => {
    for (const debugEnabled of [undefined, true, false]) {
      const entries = await handleTwo(debugEnabled);
      const handled = entries.filter((entry) => entry.message === 'handled');
      assert.equal(handled.length, debugEnabled === false ? 0 : 1, `debugEnabled ${debugEnabled}`);
      for (const entry of handled) {
        assert.deepEqual(Object.keys(entry.fields!), [...coordinates, 'durationMs']);
        assert.equal(entry.fields!.group, 'logged');
      }
      const failed = entries.find((entry) => entry.message === 'handler failed')!;
      assert.equal(failed.level, 'warn');
      assert.deepEqual(Object.keys(failed.fields!), [...coordinates, 'error', 'reason']);
      assert.equal(failed.fields!.reason, 'boom');
      assert.equal(failed.fields!.attempt, 1);
    }
  });

  it('consoleLogger and silentLogger say which levels they write', () => {
    const logger = consoleLogger('info');
    assert.deepEqual(
      (['debug', 'info', 'warn', 'error'] as const).map((level) => logger.isLevelEnabled?.(level)),
      [false, true, true, true],
    );
    assert.equal(silentLogger.isLevelEnabled?.('error'), false);
  });
});
