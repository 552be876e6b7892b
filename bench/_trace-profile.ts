/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): one configuration of
 * the bus's end-to-end or publish-only path, with or without an OpenTelemetry SDK, on the memory or
 * the embedded transport. Prints wall time, CPU per message (the whole process: the main thread,
 * the garbage collector's helper threads and libuv's pool), the main thread's share of it and the kernel's (system time: the broker's file I/O), and
 * the garbage collector's pauses; run under `node --cpu-prof` to see where the time goes.
 *
 *   npx node [--cpu-prof --cpu-prof-dir=DIR] bench/_trace-profile.ts \
 *     <memory|embedded> <mode> <publishers> <inFlight (0: publish only)> <messages>
 *
 * Modes, to take the cost of tracing apart:
 * - `plain`: no SDK, no context manager (the bus's no-op spans);
 * - `carried`: `plain`, every publish given the same `traceparent` (passed on as text: the cost of
 *   carrying it in the message); `carried-unique`: a different one per message;
 * - `context`: an AsyncLocalStorage context manager registered, no SDK;
 * - `off`: SDK and context manager, sampler `AlwaysOff` (ids, contexts and `traceparent`, nothing
 *   recorded);
 * - `traced`: SDK with a `BatchSpanProcessor` (what an application registers); `simple`: the same
 *   with a `SimpleSpanProcessor` (each span handed to the exporter when it ends, none queued);
 * - `floor`: the bus sees no SDK, and the bench itself makes the two spans per message with the SDK
 *   alone (same kinds, parent, link and attributes, prebuilt; the producer's span context handed to
 *   the handler by event id, no `traceparent` text; the handler under `context.with` of its span):
 *   the least any instrumentation could add, measured inside the same end-to-end process;
 *   `floor-carried`: the same, every message also carrying a `traceparent` (as any W3C-propagating
 *   instrumentation must).
 *
 * One unmeasured round of up to 20,000 messages warms up first; each round runs on a fresh
 * transport (the embedded one in a temp directory, removed at the end).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { embeddedTransport } from '@herald/broker';
import { createBus, defineEvent, memoryTransport, type Transport } from '@herald/bus';
import { context, ROOT_CONTEXT, type SpanContext, SpanKind, type Tracer, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';

const [kind = 'memory', mode = 'traced', publishersText = '256', inFlightText = '1', totalText = '100000'] =
  process.argv.slice(2);
const publishers = Number(publishersText);
const inFlight = Number(inFlightText);
const total = Number(totalText);

const BenchEvent = defineEvent('BenchEvent', {
  topic: 'bench-events',
  schema: z.object({ id: z.string(), amount: z.number().int(), note: z.string() }),
  key: (event) => event.id,
});

const droppingExporter: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
};

async function transportOf(directory: string): Promise<Transport> {
  return kind === 'embedded'
    ? embeddedTransport({ dir: directory })
    : memoryTransport({ messagesPerTopicMax: total * 2 });
}

async function round(
  directory: string,
  messages: number,
): Promise<{ ms: number; cpuUs: number; systemUs: number; mainThreadCpuUs: number }> {
  const bus = createBus({ transport: await transportOf(directory), source: '/bench' });
  let handled = 0;
  let resolveDone = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  if (inFlight > 0)
    bus.on(BenchEvent, { group: 'bench', concurrency: inFlight }, (event) => {
      if (floorTracer !== undefined) floorProcess(floorTracer, event.id);
      if (++handled === messages) resolveDone();
    });
  await bus.start();
  const cpuStart = process.cpuUsage();
  const threadStart = process.threadCpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: publishers }, async () => {
      while (next < messages) {
        const n = next++;
        if (floorTracer !== undefined) {
          await floorPublish(floorTracer, `order-${n}`, () =>
            bus.publish(
              BenchEvent,
              { id: `order-${n}`, amount: n, note: 'benchmark event' },
              mode === 'floor-carried' ? { traceparent: GIVEN_TRACEPARENT } : undefined,
            ),
          );
          continue;
        }
        await bus.publish(
          BenchEvent,
          { id: `order-${n}`, amount: n, note: 'benchmark event' },
          mode === 'carried'
            ? { traceparent: GIVEN_TRACEPARENT }
            : mode === 'carried-unique'
              ? { traceparent: uniqueTraceparent(n) }
              : undefined,
        );
      }
    }),
  );
  if (inFlight > 0) await done;
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const thread = process.threadCpuUsage(threadStart);
  await bus.stop();
  return {
    ms,
    cpuUs: cpu.user + cpu.system,
    systemUs: cpu.system,
    mainThreadCpuUs: thread.user + thread.system,
  };
}

/** A W3C `traceparent` the `carried` mode hands every publish (no SDK: passed on as text). */
const GIVEN_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** A different valid `traceparent` per message (a new string each, as a real span's would be). */
function uniqueTraceparent(n: number): string {
  return `00-0af7651916cd43dd8448eb211c80319c-${n.toString(16).padStart(16, '1')}-01`;
}

/** The span processor of each SDK mode: `simple` ends spans into the exporter at once (no queue). */
function processorOf(sdkMode: string): SpanProcessor {
  return sdkMode === 'simple'
    ? new SimpleSpanProcessor(droppingExporter)
    : new BatchSpanProcessor(droppingExporter);
}

/** The attributes the bus sets on its spans, prebuilt (the `floor` mode pays nothing to build them). */
const SEND_ATTRIBUTES = {
  'messaging.system': kind,
  'messaging.destination.name': 'bench-events',
  'messaging.message.id': 'id',
  'cloudevents.event_type': 'BenchEvent',
  'cloudevents.event_source': '/bench',
  'messaging.message.conversation_id': 'id',
  'messaging.operation.type': 'send',
  'messaging.operation.name': 'send',
};
const PROCESS_ATTRIBUTES = {
  'messaging.system': kind,
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
const PRODUCER = { kind: SpanKind.PRODUCER };

/** `floor` mode: each message's producer span context, handed to its handler run by event id. */
const producers = new Map<string, SpanContext>();

/** `floor` mode: the send span any instrumentation makes around a publish, with the SDK alone. */
async function floorPublish(tracer: Tracer, id: string, publish: () => Promise<unknown>): Promise<void> {
  const span = tracer.startSpan('send bench-events', PRODUCER, context.active());
  span.setAttributes(SEND_ATTRIBUTES);
  producers.set(id, span.spanContext());
  try {
    await publish();
  } finally {
    span.end();
  }
}

/** `floor` mode: the process span, under and linked to the producer, around a handler run. */
function floorProcess(tracer: Tracer, id: string): void {
  const producer = producers.get(id);
  producers.delete(id);
  const parent = producer === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, producer);
  const links = producer === undefined ? [] : [{ context: producer }];
  const span = tracer.startSpan('process bench-events', { kind: SpanKind.CONSUMER, links }, parent);
  span.setAttributes(PROCESS_ATTRIBUTES);
  context.with(trace.setSpan(ROOT_CONTEXT, span), noop);
  span.end();
}

const noop = (): void => {};

let provider: BasicTracerProvider | undefined;
let floorTracer: Tracer | undefined;
if (mode === 'floor' || mode === 'floor-carried') {
  // Not registered globally: the bus sees no SDK (its hooks are no-ops) while the bench makes the
  // same two spans per message with the SDK alone, as `bench/_trace-floor.ts` does without a bus.
  provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(droppingExporter)] });
  floorTracer = provider.getTracer('floor');
}
if (mode === 'traced' || mode === 'simple' || mode === 'off') {
  provider = new BasicTracerProvider({
    spanProcessors: [processorOf(mode)],
    ...(mode === 'off' ? { sampler: new AlwaysOffSampler() } : {}),
  });
  trace.setGlobalTracerProvider(provider);
}
if (mode !== 'plain' && mode !== 'carried' && mode !== 'carried-unique')
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
let gcMs = 0;
let gcCount = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration;
    gcCount += 1;
  }
});
gcObserver.observe({ entryTypes: ['gc'] });
const directory = await mkdtemp(join(tmpdir(), 'herald-trace-profile-'));
try {
  await round(join(directory, 'warm'), Math.min(total, 20_000));
  gcMs = 0;
  gcCount = 0;
  const result = await round(join(directory, 'measured'), total);
  const line = `${kind} ${mode} publishers=${publishers} inFlight=${inFlight}: ${Math.round((total / result.ms) * 1000)} msg/s, ${(result.cpuUs / total).toFixed(2)} µs CPU/msg (main thread ${(result.mainThreadCpuUs / total).toFixed(2)}, system ${(result.systemUs / total).toFixed(2)}), GC pauses ${((gcMs * 1000) / total).toFixed(2)} µs/msg in ${gcCount}`;
  process.stdout.write(`${line}\n`);
} finally {
  gcObserver.disconnect();
  await provider?.shutdown();
  await rm(directory, { recursive: true, force: true });
}
