/**
 * One checkout order is one trace: the client's span, the HTTP requests, and every send and
 * handler run of the seven services (in one process), recorded with the SDK's in-memory exporter,
 * on the embedded broker, on RabbitMQ, on a real Apache Kafka broker, on NATS JetStream, on Redis
 * Streams and on AWS SNS + SQS (the moto emulator).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  eventually,
  RABBITMQ_URL,
  requireRabbitMq,
  requireReachable,
  requireServer,
  serverPort,
  until,
} from '@herald/test-support';
import { type ApacheKafka, startApacheKafka } from '@herald/test-support/apache-kafka';
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Redis } from 'ioredis';
import { type Checkout, startCheckout } from '../src/app.ts';
import { isQuiescent } from '../src/invariants.ts';
import { SERVICE_NAMES } from '../src/services/index.ts';
import { JsonLinesSpanExporter, renderTraceTree } from '../src/tracing.ts';
import { deleteRunTopology, transportFromEnv } from '../src/transport.ts';
import { postJson, temporaryDirectory } from './helpers.ts';
import { AWS_ENDPOINT, deleteWithPrefix, onAws } from './support/aws.ts';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let checkout: Checkout | undefined;
let kafka: ApacheKafka | undefined;

before(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});
after(async () => {
  await checkout?.stop();
  await kafka?.stop();
  trace.disable();
  propagation.disable();
  context.disable();
  await provider.shutdown();
});

/** Which service made a span: the sending or the consuming bus's source, `/checkout/<name>`. */
function serviceOf(span: ReadableSpan): string | undefined {
  const source =
    span.attributes[span.kind === SpanKind.CONSUMER ? 'herald.consumer.source' : 'cloudevents.event_source'];
  return typeof source === 'string' ? source.replace('/checkout/', '') : undefined;
}

/** The spans one checkout order makes, by name: every send and handler run of its steps. */
const EXPECTED_SPANS = [
  'POST /users',
  'POST /orders',
  'send users',
  'process users',
  'send orders',
  'process orders',
  'send commands.ReserveInventory',
  'process commands.ReserveInventory',
  'send inventory',
  'process inventory',
  'send commands.ProcessPayment',
  'process commands.ProcessPayment',
  'send payments',
  'process payments',
  'send notifications',
  'process notifications',
];

/**
 * Starts the seven services in this process on the transport `env` names, registers a customer
 * and places one order under a client span, and checks the trace once the system is at rest.
 */
async function oneOrderIsOneTrace(env: Record<string, string>, system: string): Promise<void> {
  exporter.reset();
  const dataDir = temporaryDirectory(`tracing-${system}`);
  checkout = await startCheckout({
    dataDir,
    transport: await transportFromEnv({ dataDir, env }),
    payment: { declineRate: 0, latencyMsMin: 1, latencyMsMax: 2 },
  });
  const running = checkout;
  const root = trace.getTracer('checkout-test').startSpan('checkout order');
  const rootContext = trace.setSpan(ROOT_CONTEXT, root);
  const headers: Record<string, string> = {};
  propagation.inject(rootContext, headers);
  const customerId = 'c-trace';
  const user = await postJson(
    `${running.url}/users`,
    { customerId, name: 'Ada', email: 'ada@example.com' },
    headers,
  );
  assert.equal(user.status, 201);
  const order = await postJson(
    `${running.url}/orders`,
    { customerId, items: [{ sku: 'KB-01', quantity: 1 }] },
    headers,
  );
  assert.equal(order.status, 202);
  root.end();
  await eventually(() => isQuiescent(running), 'the order settled and every outbox is empty', 30_000);
  // Every step's span first (an SQS long poll can hold the last delivery longer than two polls),
  // then consumers of the last events (audit, analytics) may still be running: wait for the span
  // count to hold still across two polls.
  await eventually(
    () => {
      const seen = new Set(exporter.getFinishedSpans().map((span) => span.name));
      return EXPECTED_SPANS.every((name) => seen.has(name));
    },
    'a span of every step of the order',
    30_000,
  );
  let previous = -1;
  await until(
    () => exporter.getFinishedSpans().length,
    (count) => {
      const still = count === previous;
      previous = count;
      return still;
    },
    'spans stop arriving',
    15_000,
    300,
  );

  const spans = exporter.getFinishedSpans();
  const traceId = root.spanContext().traceId;
  const strays = spans.filter((span) => span.spanContext().traceId !== traceId);
  assert.deepEqual(
    strays.map((span) => span.name),
    [],
    'every span is in the order trace',
  );
  const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
  const names = new Set(spans.map((span) => span.name));
  for (const expected of EXPECTED_SPANS) {
    assert.ok(names.has(expected), `span "${expected}" (got ${[...names].sort().join(', ')})`);
  }
  const services = new Set(spans.map(serviceOf).filter((name) => name !== undefined));
  assert.deepEqual([...services].sort(), [...SERVICE_NAMES].sort(), 'all seven services made spans');

  for (const span of spans) {
    if (span === undefined || span.name === 'checkout order') continue;
    const parent = byId.get(span.parentSpanContext?.spanId ?? '');
    assert.ok(parent, `"${span.name}" has its parent in the trace`);
    if (span.name.startsWith('POST ')) {
      assert.equal(span.kind, SpanKind.SERVER);
      assert.equal(parent.name, 'checkout order');
    } else if (span.name.startsWith('send ')) {
      assert.equal(span.kind, SpanKind.PRODUCER);
      assert.ok(
        parent.kind === SpanKind.SERVER || parent.kind === SpanKind.CONSUMER,
        `"${span.name}" is sent from a request or a handler run, not from "${parent.name}"`,
      );
      assert.equal(span.attributes['messaging.operation.type'], 'send');
    } else {
      assert.match(span.name, /^process /);
      assert.equal(span.kind, SpanKind.CONSUMER);
      // The producer is the parent and the link; same destination and same message.
      assert.equal(parent.kind, SpanKind.PRODUCER);
      assert.equal(span.links[0]?.context.spanId, parent.spanContext().spanId);
      assert.equal(
        span.attributes['messaging.destination.name'],
        parent.attributes['messaging.destination.name'],
      );
      assert.equal(span.attributes['messaging.message.id'], parent.attributes['messaging.message.id']);
      assert.equal(span.attributes['messaging.operation.type'], 'process');
      assert.equal(typeof span.attributes['messaging.consumer.group.name'], 'string');
      assert.equal(typeof span.attributes['messaging.destination.partition.id'], 'string');
    }
    if (span.kind !== SpanKind.SERVER) assert.equal(span.attributes['messaging.system'], system);
    if (span.kind === SpanKind.CONSUMER && system === 'kafka') {
      assert.equal(typeof span.attributes['messaging.kafka.offset'], 'number', `${span.name} has its offset`);
      assert.equal(
        typeof span.attributes['messaging.kafka.message.key'],
        'string',
        `${span.name} has its key`,
      );
    }
    if (span.kind !== SpanKind.SERVER && system === 'rabbitmq') {
      const routingKey = span.attributes['messaging.rabbitmq.destination.routing_key'];
      assert.equal(routingKey, span.attributes['cloudevents.event_type'], 'routed by event type');
    }
  }
  // The report's tree: the client span at the top, each span under its parent with its service.
  const tree = renderTraceTree(spans);
  assert.match(tree[0]!, /^ {2}checkout order {2}\[, internal\]/);
  assert.ok(
    tree.some((line) => /^ {4}POST \/orders {2}\[order, server\]/.test(line)),
    tree.join('\n'),
  );
  assert.ok(
    tree.some((line) => /^ {6}send orders {2}\[order, producer\]/.test(line)),
    tree.join('\n'),
  );
  assert.ok(
    tree.some((line) => /^ {8}process orders {2}\[audit, consumer\]/.test(line)),
    tree.join('\n'),
  );
  assert.equal(tree.length, spans.length, 'every span drawn once');
  // What `npm start -- --otel` writes without an OTLP endpoint: one JSON object per span per line.
  const file = join(dataDir, 'traces.jsonl');
  const written = await new Promise<number>((resolve) =>
    new JsonLinesSpanExporter(file).export([...spans], (result) => resolve(result.code)),
  );
  assert.equal(written, 0, 'exported');
  const records = readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.equal(records.length, spans.length);
  const sendOrders = records.find((record) => record.name === 'send orders');
  assert.equal(sendOrders.kind, 'PRODUCER');
  assert.equal(sendOrders.traceId, traceId);
  assert.equal(sendOrders.attributes['messaging.destination.name'], 'orders');
  assert.ok(sendOrders.durationMs >= 0 && sendOrders.startTimeMs > 0);
  await checkout.stop();
  // A RabbitMQ run's exchanges and queues carry its own prefix: leave none behind.
  await deleteRunTopology(checkout.transport);
  checkout = undefined;
}

describe('checkout - one order is one trace', { timeout: 600_000 }, () => {
  it('on the embedded broker: client, HTTP, every send and handler run of all seven services', {
    timeout: 120_000,
  }, async () => {
    await oneOrderIsOneTrace({ HERALD_TRANSPORT: 'embedded' }, 'embedded');
  });

  it('on RabbitMQ', { timeout: 120_000 }, async () => {
    await requireRabbitMq();
    await oneOrderIsOneTrace({ HERALD_TRANSPORT: 'rabbitmq', HERALD_RABBITMQ_URL: RABBITMQ_URL }, 'rabbitmq');
  });

  it('on Apache Kafka', { timeout: 300_000 }, async () => {
    kafka = await startApacheKafka({ partitions: 2 });
    await oneOrderIsOneTrace({ HERALD_TRANSPORT: 'kafka', HERALD_KAFKA_BROKERS: kafka.bootstrap }, 'kafka');
  });

  it('on NATS JetStream', { timeout: 120_000 }, async () => {
    await requireServer('nats');
    // The run's streams are deleted by the run itself (deleteRunTopology).
    const url = process.env.HERALD_NATS_URL ?? `nats://127.0.0.1:${serverPort('nats')}`;
    await oneOrderIsOneTrace({ HERALD_TRANSPORT: 'nats', HERALD_NATS_URL: url }, 'nats');
  });

  it('on Redis Streams', { timeout: 120_000 }, async () => {
    await requireServer('redis');
    const url = process.env.HERALD_REDIS_URL ?? `redis://127.0.0.1:${serverPort('redis')}`;
    const prefix = `herald-test:trace-${process.pid}-${Date.now()}:`;
    try {
      await oneOrderIsOneTrace(
        { HERALD_TRANSPORT: 'redis', HERALD_REDIS_URL: url, HERALD_REDIS_PREFIX: prefix },
        'redis',
      );
    } finally {
      await deleteRedisKeys(url, prefix);
    }
  });

  it('on AWS SNS + SQS (moto)', { timeout: 180_000 }, async () => {
    await requireReachableUrl(AWS_ENDPOINT, 'the moto emulator (npm run setup starts it)');
    const settings = onAws(`hct-${process.pid}-`);
    // The AWS SDK reads credentials from the process environment, not from the checkout's `env`.
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID ??= settings.env.AWS_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY ??= settings.env.AWS_SECRET_ACCESS_KEY;
    try {
      await oneOrderIsOneTrace({ HERALD_TRANSPORT: 'aws', ...settings.env }, 'aws_sqs');
    } finally {
      restoreEnv('AWS_ACCESS_KEY_ID', saved.id);
      restoreEnv('AWS_SECRET_ACCESS_KEY', saved.secret);
      await deleteWithPrefix(settings.env.HERALD_AWS_PREFIX!);
    }
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/** Fails with `what` when nothing answers at `url`'s host and port. */
async function requireReachableUrl(url: string, what: string): Promise<void> {
  const { hostname, port } = new URL(url);
  await requireReachable(what, hostname, Number(port));
}

/** Deletes the keys of one Redis run (SCAN by prefix, DEL in bounded chunks). */
async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
