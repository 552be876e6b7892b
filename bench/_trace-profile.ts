/**
 * Profiling helper (the leading `_` keeps it out of `bench/run.ts`'s suites): one configuration of
 * the bus's end-to-end or publish-only path, with or without an OpenTelemetry SDK, on the memory or
 * the embedded transport. Prints wall time and CPU per message; run under `node --cpu-prof` to see
 * where the time goes.
 *
 *   npx node [--cpu-prof --cpu-prof-dir=DIR] bench/_trace-profile.ts \
 *     <memory|embedded> <plain|traced> <publishers> <inFlight (0: publish only)> <messages>
 *
 * One unmeasured round of up to 20,000 messages warms up first; each round runs on a fresh
 * transport (the embedded one in a temp directory, removed at the end).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedTransport } from '@herald/broker';
import { createBus, defineEvent, memoryTransport, type Transport } from '@herald/bus';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
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

async function round(directory: string, messages: number): Promise<{ ms: number; cpuUs: number }> {
  const bus = createBus({ transport: await transportOf(directory), source: '/bench' });
  let handled = 0;
  let resolveDone = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  if (inFlight > 0)
    bus.on(BenchEvent, { group: 'bench', concurrency: inFlight }, () => {
      if (++handled === messages) resolveDone();
    });
  await bus.start();
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: publishers }, async () => {
      while (next < messages) {
        const n = next++;
        await bus.publish(BenchEvent, { id: `order-${n}`, amount: n, note: 'benchmark event' });
      }
    }),
  );
  if (inFlight > 0) await done;
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  await bus.stop();
  return { ms, cpuUs: cpu.user + cpu.system };
}

let provider: BasicTracerProvider | undefined;
if (mode === 'traced') {
  provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(droppingExporter)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
}
const directory = await mkdtemp(join(tmpdir(), 'herald-trace-profile-'));
try {
  await round(join(directory, 'warm'), Math.min(total, 20_000));
  const result = await round(join(directory, 'measured'), total);
  const line = `${kind} ${mode} publishers=${publishers} inFlight=${inFlight}: ${Math.round((total / result.ms) * 1000)} msg/s, ${(result.cpuUs / total).toFixed(2)} µs CPU/msg`;
  process.stdout.write(`${line}\n`);
} finally {
  await provider?.shutdown();
  await rm(directory, { recursive: true, force: true });
}
