/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): CPU per message of
 * tracing with an OpenTelemetry SDK registered (AsyncLocalStorage context manager,
 * `BatchSpanProcessor`, an exporter that drops the batches), no broker and no bus around it.
 *
 * - `herald`: what the bus does per message: `startSend` (parent lookup, span, attributes, the
 *   `traceparent` to send) and its end; `startProcess` (parse the received `traceparent`, span with
 *   the producer as parent and link, attributes), the handler run under `context.with`, its end.
 * - `floor`: what any caller of the SDK must do for the same two spans: `startSpan` with the same
 *   kinds, parent and link, the same attributes (prebuilt constant objects: no cost of building
 *   them), `context.with` around the handler, `end`. The parent is handed over as a span context
 *   object (no formatting or parsing of a `traceparent`).
 *
 * The difference is the bus's own share of the tracing cost; `floor` bounds what any caller pays.
 *
 *   npx node bench/_trace-floor.ts [iterations]
 */
import { context, type Link, ROOT_CONTEXT, type Span, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Envelope, ReceivedMessage } from '../packages/bus/src/index.ts';
import { sendParent, startProcess, startSend } from '../packages/bus/src/tracing.ts';

const iterations = Number(process.argv[2] ?? 200_000);

const droppingExporter: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
};
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(droppingExporter)] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
const tracer = trace.getTracer('floor');

const handler = (): number => 1;

function received(traceparent: string | undefined, n: number): ReceivedMessage {
  return {
    topic: 'bench-events',
    partition: 0,
    offset: String(n),
    deliveryAttempt: 1,
    timestampMs: 0,
    key: `order-${n}`,
    headers: traceparent === undefined ? {} : { ce_traceparent: traceparent },
    body: new Uint8Array(0),
    ack: async () => {},
    nack: async () => {},
  };
}

function envelopeOf(n: number, traceparent: string | undefined): Envelope {
  return {
    specversion: '1.0',
    id: `id-${n}`,
    source: '/bench',
    type: 'BenchEvent',
    time: '',
    datacontenttype: 'application/json',
    correlationid: `id-${n}`,
    traceparent,
    extensions: {},
    data: undefined,
  } as unknown as Envelope;
}

function heraldOnce(n: number): void {
  const sent = startSend(
    {
      system: 'memory',
      source: '/bench',
      topic: 'bench-events',
      id: `id-${n}`,
      type: 'BenchEvent',
      key: `order-${n}`,
      correlationId: `id-${n}`,
    },
    sendParent(undefined, undefined, undefined),
  );
  sent.span.end();
  const traced = startProcess(
    'memory',
    '/bench',
    'bench',
    received(sent.traceparent, n),
    envelopeOf(n, sent.traceparent),
  );
  context.with(traced.context, handler);
  traced.span.end();
}

const SEND_ATTRIBUTES = {
  'messaging.system': 'memory',
  'messaging.destination.name': 'bench-events',
  'messaging.message.id': 'id',
  'cloudevents.event_type': 'BenchEvent',
  'cloudevents.event_source': '/bench',
  'messaging.message.conversation_id': 'id',
  'messaging.operation.type': 'send',
  'messaging.operation.name': 'send',
};
const PROCESS_ATTRIBUTES = {
  'messaging.system': 'memory',
  'messaging.destination.name': 'bench-events',
  'messaging.destination.partition.id': '0',
  'herald.delivery_attempt': 1,
  'herald.consumer.source': '/bench',
  'messaging.message.id': 'id',
  'cloudevents.event_type': 'BenchEvent',
  'cloudevents.event_source': '/bench',
  'messaging.message.conversation_id': 'id',
  'messaging.operation.type': 'process',
  'messaging.operation.name': 'process',
  'messaging.consumer.group.name': 'bench',
};

function floorOnce(n: number): void {
  // The same inputs as `heraldOnce` builds (the bus has them with or without tracing).
  const inputs = [`id-${n}`, `order-${n}`, received(undefined, n), envelopeOf(n, undefined)];
  const send: Span = tracer.startSpan('send bench-events', { kind: SpanKind.PRODUCER }, context.active());
  send.setAttributes(SEND_ATTRIBUTES);
  send.end();
  const producer = send.spanContext();
  const links: Link[] = [{ context: producer }];
  const process = tracer.startSpan(
    'process bench-events',
    { kind: SpanKind.CONSUMER, links },
    trace.setSpanContext(ROOT_CONTEXT, producer),
  );
  process.setAttributes(PROCESS_ATTRIBUTES);
  context.with(trace.setSpan(ROOT_CONTEXT, process), handler);
  process.end();
  if (inputs.length === 0) throw new Error('unreachable');
}

/** CPU microseconds per message of `once`, the best of `repeats` passes. */
function measure(once: (n: number) => void, repeats: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < repeats; pass++) {
    const started = process.cpuUsage();
    for (let n = 0; n < iterations; n++) once(n);
    const used = process.cpuUsage(started);
    best = Math.min(best, (used.user + used.system) / iterations);
  }
  return best;
}

try {
  // Warm both paths first, then alternate them, so load on the machine hits both alike.
  measure(heraldOnce, 1);
  measure(floorOnce, 1);
  const results = { herald: [] as number[], floor: [] as number[] };
  for (let pass = 0; pass < 3; pass++) {
    results.herald.push(measure(heraldOnce, 1));
    results.floor.push(measure(floorOnce, 1));
  }
  const best = (values: number[]) => Math.min(...values).toFixed(2);
  process.stdout.write(
    `${iterations} messages (a send and a process span each), best of 3 passes, CPU µs per message:\n` +
      `  herald (bus tracing code + SDK): ${best(results.herald)}  [${results.herald.map((v) => v.toFixed(2)).join(', ')}]\n` +
      `  floor (SDK calls only):          ${best(results.floor)}  [${results.floor.map((v) => v.toFixed(2)).join(', ')}]\n`,
  );
} finally {
  await provider.shutdown();
}
