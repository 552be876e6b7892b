import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, until } from '@herald/test-support';
import { context, createContextKey, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { memoryTransport, UnrecoverableError } from '../src/index.ts';
import { createTestBus } from '../src/testing.ts';
import {
  formatTraceparent,
  parseTraceparent,
  remoteSpanContext,
  semconvMode,
  spanOnlyContext,
} from '../src/tracing.ts';
import { countdown, GetStock, InventoryReserved, OrderCreated } from './fixtures.ts';

const fastRetry = { delayMsInitial: 1, delayMsMax: 5, jitter: 0 };
const GIVEN = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function parentId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

function named(spans: readonly ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((span) => span.name === name);
}

describe('tracing - W3C trace context and semconv opt-in', () => {
  it('parses and formats traceparent, rejecting malformed ones', () => {
    const parsed = parseTraceparent(GIVEN, 'vendor=abc');
    assert.equal(parsed?.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(parsed?.traceState?.get('vendor'), 'abc');
    assert.equal(formatTraceparent(parsed!), GIVEN);
    // Every flag bit passes through, known or not (the flags are read from their two hex digits).
    const flagged = `${GIVEN.slice(0, 53)}a5`;
    assert.equal(parseTraceparent(flagged)?.traceFlags, 0xa5);
    assert.equal(formatTraceparent(parseTraceparent(flagged)!), flagged);
    for (const bad of [
      '',
      'garbage',
      `${GIVEN}-extra`,
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      `${GIVEN.slice(0, 53)}0G`,
      GIVEN.toUpperCase(),
    ]) {
      assert.equal(parseTraceparent(bad), undefined, bad);
    }
  });

  it("a span-only context reads as the API's trace.setSpan(ROOT_CONTEXT, span) does, and derives from it", () => {
    const span = trace.wrapSpanContext(parseTraceparent(GIVEN)!);
    const light = spanOnlyContext(span);
    const api = trace.setSpan(ROOT_CONTEXT, span);
    // The API finds the span through its own key: the light context must answer that key.
    assert.equal(trace.getSpan(light), span);
    assert.equal(trace.getSpanContext(light), trace.getSpanContext(api));
    const other = createContextKey('herald.test-key');
    assert.equal(light.getValue(other), undefined);
    // Deriving keeps the span and adds the value, as the API's context does.
    const derived = light.setValue(other, 42);
    assert.equal(derived.getValue(other), 42);
    assert.equal(trace.getSpan(derived), span);
    assert.equal(light.getValue(other), undefined, 'setValue must not change the original');
    assert.equal(trace.getSpan(trace.deleteSpan(light)), undefined);
    assert.equal(light.deleteValue(other), light);
    // A span set over it replaces it, as over any context.
    const child = trace.wrapSpanContext(parseTraceparent(`${GIVEN.slice(0, 36)}1111111111111111-01`)!);
    assert.equal(trace.getSpan(trace.setSpan(light, child)), child);
  });

  it("a remote span context reads as the API's trace.setSpanContext(ROOT_CONTEXT, …) does: context and span in one", () => {
    const received = parseTraceparent(GIVEN, 'vendor=abc')!;
    const light = remoteSpanContext(received);
    const api = trace.setSpanContext(ROOT_CONTEXT, received);
    // The API and the SDK find the parent through the span key, then ask the span for its context.
    assert.equal(trace.getSpanContext(light), received);
    assert.deepEqual(trace.getSpanContext(light), trace.getSpanContext(api));
    const span = trace.getSpan(light)!;
    // A non-recording span, as the API's: recording nothing, ending nothing, chaining as it does.
    assert.equal(span.isRecording(), false);
    assert.equal(span.setAttribute('a', 1).addEvent('e').setStatus({ code: 2 }).updateName('n'), span);
    span.end();
    span.recordException(new Error('ignored'));
    const other = createContextKey('herald.test-key');
    assert.equal(light.getValue(other), undefined);
    const derived = light.setValue(other, 42);
    assert.equal(derived.getValue(other), 42);
    assert.equal(trace.getSpanContext(derived), received);
    assert.equal(light.getValue(other), undefined, 'setValue must not change the original');
    assert.equal(trace.getSpan(trace.deleteSpan(light)), undefined);
    assert.equal(light.deleteValue(other), light);
  });

  it('OTEL_SEMCONV_STABILITY_OPT_IN=messaging/dup adds the old names; the current ones always', () => {
    assert.deepEqual(semconvMode(undefined), { current: true, old: false });
    assert.deepEqual(semconvMode('http, messaging'), { current: true, old: false });
    assert.deepEqual(semconvMode('messaging/dup'), { current: true, old: true });
  });
});

// Before any SDK is registered: the API is a no-op and a given traceparent passes through.
describe('tracing - without an SDK', { timeout: 60_000 }, () => {
  it('a given traceparent travels unchanged to the handler and its follow-ups', async () => {
    await using bus = createTestBus();
    const seen = countdown(1);
    bus.on(OrderCreated, { group: 'inventory' }, async (order, handler) => {
      await handler.publish(InventoryReserved, { orderId: order.orderId });
    });
    bus.on(InventoryReserved, { group: 'shipping' }, () => seen.hit());
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o-1', total: 1 }, { traceparent: GIVEN });
    await seen.done;
    assert.equal(bus.publishedAll(OrderCreated)[0]?.traceparent, GIVEN);
    assert.equal(bus.publishedAll(InventoryReserved)[0]?.traceparent, GIVEN);
  });

  it('a carried tracestate travels with it, unparsed, to the follow-ups', async () => {
    await using bus = createTestBus();
    const seen = countdown(1);
    bus.on(OrderCreated, { group: 'inventory' }, async (order, handler) => {
      await handler.publish(InventoryReserved, { orderId: order.orderId });
    });
    bus.on(InventoryReserved, { group: 'shipping' }, () => seen.hit());
    await bus.start();
    const extensions = { tracestate: 'vendor=abc,other=x' };
    await bus.publish(OrderCreated, { orderId: 'o-1', total: 1 }, { traceparent: GIVEN, extensions });
    await seen.done;
    for (const sent of [bus.publishedAll(OrderCreated)[0], bus.publishedAll(InventoryReserved)[0]]) {
      assert.equal(sent?.traceparent, GIVEN);
      assert.equal(sent?.extensions.tracestate, 'vendor=abc,other=x');
    }
  });

  it('a malformed traceparent still travels as given; a handler follow-up then carries it too', async () => {
    await using bus = createTestBus();
    const seen = countdown(1);
    bus.on(OrderCreated, { group: 'inventory' }, async (order, handler) => {
      await handler.publish(InventoryReserved, { orderId: order.orderId });
    });
    bus.on(InventoryReserved, { group: 'shipping' }, () => seen.hit());
    await bus.start();
    const malformed = GIVEN.toUpperCase();
    await bus.publish(OrderCreated, { orderId: 'o-1', total: 1 }, { traceparent: malformed });
    await seen.done;
    assert.equal(bus.publishedAll(OrderCreated)[0]?.traceparent, malformed);
    assert.equal(bus.publishedAll(InventoryReserved)[0]?.traceparent, malformed);
  });

  it('with a context manager but no SDK, a plain bus.publish inside a handler continues the trace', async () => {
    const manager = new AsyncLocalStorageContextManager();
    context.setGlobalContextManager(manager.enable());
    try {
      await using bus = createTestBus();
      const seen = countdown(1);
      bus.on(OrderCreated, { group: 'inventory' }, async (order) => {
        await bus.publish(InventoryReserved, { orderId: order.orderId });
      });
      bus.on(InventoryReserved, { group: 'shipping' }, () => seen.hit());
      await bus.start();
      await bus.publish(OrderCreated, { orderId: 'o-1', total: 1 }, { traceparent: GIVEN });
      await seen.done;
      assert.equal(bus.publishedAll(InventoryReserved)[0]?.traceparent, GIVEN);
    } finally {
      context.disable();
    }
  });
});

describe('tracing - with the SDK', { timeout: 60_000 }, () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager();

  before(() => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  });
  after(async () => {
    trace.disable();
    context.disable();
    await provider.shutdown();
  });

  it('publish, handler and a follow-up publish make one trace: send -> process -> send -> process', async () => {
    exporter.reset();
    await using bus = createTestBus();
    const seen = countdown(1);
    bus.on(OrderCreated, { group: 'inventory' }, async (order, handler) => {
      await handler.publish(InventoryReserved, { orderId: order.orderId });
    });
    bus.on(InventoryReserved, { group: 'shipping' }, () => seen.hit());
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o-1', total: 1 });
    await seen.done;
    await eventually(() => exporter.getFinishedSpans().length === 4, 'four spans ended');
    const spans = exporter.getFinishedSpans();
    const [sendOrders] = named(spans, 'send orders');
    const [processOrders] = named(spans, 'process orders');
    const [sendInventory] = named(spans, 'send inventory');
    const [processInventory] = named(spans, 'process inventory');
    assert.ok(sendOrders && processOrders && sendInventory && processInventory, 'all four spans');
    assert.equal(new Set(spans.map((span) => span.spanContext().traceId)).size, 1, 'one trace');
    assert.equal(sendOrders.kind, SpanKind.PRODUCER);
    assert.equal(processOrders.kind, SpanKind.CONSUMER);
    assert.equal(parentId(sendOrders), undefined);
    assert.equal(parentId(processOrders), sendOrders.spanContext().spanId);
    assert.deepEqual(
      processOrders.links.map((link) => link.context.spanId),
      [sendOrders.spanContext().spanId],
    );
    assert.equal(parentId(sendInventory), processOrders.spanContext().spanId);
    assert.equal(parentId(processInventory), sendInventory.spanContext().spanId);
    const published = bus.publishedAll(OrderCreated)[0]!;
    assert.equal(published.traceparent, formatTraceparent(sendOrders.spanContext()));
    assert.deepEqual(sendOrders.attributes, {
      'messaging.system': 'memory',
      'messaging.destination.name': 'orders',
      'messaging.message.id': published.id,
      'cloudevents.event_type': 'OrderCreated',
      'cloudevents.event_source': bus.source,
      'messaging.message.conversation_id': published.id,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
    });
    assert.equal(processOrders.attributes['messaging.operation.type'], 'process');
    assert.equal(processOrders.attributes['messaging.consumer.group.name'], 'inventory');
    assert.equal(processOrders.attributes['messaging.message.id'], published.id);
    assert.equal(processOrders.attributes['herald.delivery_attempt'], 1);
    assert.equal(processOrders.attributes['herald.consumer.source'], bus.source);
    assert.equal(typeof processOrders.attributes['messaging.destination.partition.id'], 'string');
    assert.equal(processOrders.status.code, SpanStatusCode.UNSET);
  });

  it('an explicit traceparent is the producer span parent; a tracestate travels along', async () => {
    exporter.reset();
    await using bus = createTestBus();
    await bus.publish(
      OrderCreated,
      { orderId: 'o-2', total: 1 },
      { traceparent: GIVEN, extensions: { tracestate: 'vendor=abc' } },
    );
    const [send] = exporter.getFinishedSpans();
    assert.equal(send?.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(parentId(send!), 'b7ad6b7169203331');
    assert.equal(bus.publishedAll(OrderCreated)[0]!.extensions.tracestate, 'vendor=abc');
  });

  it('a retried message: a failed process span with the exception, then a sibling that succeeds', async () => {
    exporter.reset();
    await using bus = createTestBus({ retry: { attempts: 3, ...fastRetry } });
    const done = countdown(1);
    let calls = 0;
    bus.on(OrderCreated, { group: 'flaky' }, () => {
      calls += 1;
      if (calls === 1) throw new Error('transient');
      done.hit();
    });
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o-3', total: 1 });
    await done.done;
    await eventually(() => named(exporter.getFinishedSpans(), 'process orders').length === 2, 'two runs');
    const [send] = named(exporter.getFinishedSpans(), 'send orders');
    const [first, second] = named(exporter.getFinishedSpans(), 'process orders');
    assert.equal(first!.status.code, SpanStatusCode.ERROR);
    assert.equal(first!.attributes['error.type'], 'Error');
    assert.equal(first!.events[0]?.name, 'exception');
    assert.equal(second!.attributes['herald.delivery_attempt'], 2);
    assert.equal(second!.status.code, SpanStatusCode.UNSET);
    for (const run of [first!, second!]) {
      assert.equal(parentId(run), send!.spanContext().spanId);
      assert.equal(run.links[0]?.context.spanId, send!.spanContext().spanId, 'each attempt links the send');
    }
  });

  it('dead-lettering is recorded on the span; a redrive is a send linked to the original', async () => {
    exporter.reset();
    const transport = memoryTransport();
    await using bus = createTestBus({ transport, retry: { attempts: 1, ...fastRetry } });
    let fail = true;
    const handled = countdown(1);
    bus.on(OrderCreated, { group: 'billing' }, () => {
      if (fail) throw new UnrecoverableError('bad order');
      handled.hit();
    });
    await bus.start();
    await bus.publish(OrderCreated, { orderId: 'o-4', total: 1 });
    await eventually(() => bus.stats().deadLettered === 1, 'dead-lettered');
    await eventually(() => named(exporter.getFinishedSpans(), 'process orders').length === 1, 'run ended');
    const [send] = named(exporter.getFinishedSpans(), 'send orders');
    const [failed] = named(exporter.getFinishedSpans(), 'process orders');
    assert.equal(failed!.status.code, SpanStatusCode.ERROR);
    assert.equal(failed!.attributes['herald.dead_letter.reason'], 'unrecoverable');
    assert.equal(failed!.attributes['error.type'], 'HERALD_UNRECOVERABLE');
    const event = failed!.events.find((entry) => entry.name === 'herald.dead_letter');
    assert.equal(event?.attributes?.['herald.dead_letter.topic'], 'orders.dlq');

    fail = false;
    assert.equal((await bus.deadLetters.redrive({ topic: 'orders' })).redriven, 1);
    await handled.done;
    await eventually(() => named(exporter.getFinishedSpans(), 'process orders').length === 2, 'rerun ended');
    const redrive = named(exporter.getFinishedSpans(), 'send orders').find(
      (span) => span.attributes['herald.redrive'] === true,
    );
    assert.ok(redrive, 'a redrive send span');
    assert.equal(redrive.links[0]?.context.spanId, send!.spanContext().spanId, 'linked to the original send');
    const rerun = named(exporter.getFinishedSpans(), 'process orders')[1]!;
    assert.equal(parentId(rerun), redrive.spanContext().spanId);
    assert.equal(rerun.status.code, SpanStatusCode.UNSET);
  });

  it('a request, its handler run, the reply and its receipt are one trace', async () => {
    exporter.reset();
    await using bus = createTestBus();
    bus.reply(GetStock, (query) => ({ sku: query.sku, available: 3 }));
    await bus.start();
    assert.deepEqual(await bus.request(GetStock, { sku: 'a' }), { sku: 'a', available: 3 });
    await eventually(() => exporter.getFinishedSpans().length >= 4, 'request, run, reply and receipt spans');
    const spans = exporter.getFinishedSpans();
    const request = spans.find((span) => span.kind === SpanKind.PRODUCER && parentId(span) === undefined);
    const run = spans.find(
      (span) => span.kind === SpanKind.CONSUMER && parentId(span) === request?.spanContext().spanId,
    );
    const reply = spans.find((span) => span.kind === SpanKind.PRODUCER && span !== request);
    assert.ok(request && run && reply);
    assert.equal(parentId(run), request.spanContext().spanId);
    assert.equal(parentId(reply), run.spanContext().spanId);
    assert.match(reply.name, /^send herald\.replies\./);
    // Receiving the reply: a CONSUMER span on the reply topic, child of the reply's send span and
    // linked to it, as any process span is to its message's creation context.
    const receipt = spans.find((span) => span.kind === SpanKind.CONSUMER && span !== run);
    assert.ok(receipt, 'a process span for the received reply');
    assert.equal(receipt.name, reply.name.replace(/^send/, 'process'));
    assert.equal(parentId(receipt), reply.spanContext().spanId);
    assert.equal(receipt.links[0]?.context.spanId, reply.spanContext().spanId);
    assert.equal(receipt.attributes['messaging.operation.type'], 'process');
    assert.equal(
      receipt.attributes['messaging.destination.name'],
      reply.attributes['messaging.destination.name'],
    );
    assert.equal(receipt.attributes['messaging.message.id'], reply.attributes['messaging.message.id']);
    assert.equal(receipt.status.code, SpanStatusCode.UNSET);
    assert.equal(new Set(spans.map((span) => span.spanContext().traceId)).size, 1);
  });

  it('an error reply is recorded on the span that receives it', async () => {
    exporter.reset();
    await using bus = createTestBus();
    bus.reply(GetStock, () => {
      throw new Error('stock service down');
    });
    await bus.start();
    await assert.rejects(bus.request(GetStock, { sku: 'a' }), /stock service down/);
    const receipt = await until(
      () =>
        exporter
          .getFinishedSpans()
          .find((span) => span.kind === SpanKind.CONSUMER && span.name.startsWith('process herald.replies.')),
      (span) => span !== undefined,
      'the reply receipt span',
    );
    assert.ok(receipt);
    assert.equal(receipt.status.code, SpanStatusCode.ERROR);
    assert.match(receipt.status.message ?? '', /stock service down/);
  });
});
