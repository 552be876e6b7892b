/**
 * `npm run bench -- bus [--quick] [--json]`: the bus's own CPU cost, measured on `memoryTransport()`
 * so that no disk or network hides it.
 *
 * - transport: raw `transport.publish` of one pre-encoded bus event (the same bytes the bus would
 *   send, with a unique key per message) from 1 and 256 concurrent publishers; and end to end, 256
 *   publishers while one subscriber acks every message, with 1 and with 256 messages in flight.
 * - bus: the same through `createBus` (`bus.publish` of a small zod-validated event; `bus.on` with
 *   concurrency 1 or 256 and the default logger), shown as a ratio to the matching transport row.
 *
 * - traced: the bus rows again with an OpenTelemetry SDK registered (AsyncLocalStorage context
 *   manager, a `BatchSpanProcessor` with its defaults, an exporter that drops what it is given),
 *   shown as a ratio to the matching bus row: the cost of recording spans. Bus and traced rounds
 *   alternate in pairs (ABBA order); besides the ratio of the summed rates, the table gives the
 *   median and quartiles of the per-pair ratios, by wall time and by CPU time per message (this
 *   process's, which includes the embedded broker): the figures that hold still on a shared
 *   machine, where other processes' load moves wall time far more than CPU time. The bus rows run with
 *   no SDK, where every span is a no-op; `tracing hooks, no SDK` times those no-op calls alone (a
 *   send and a process span per message) as a share of the bus's end-to-end time per message.
 * - traced, embedded: bus rounds with and without the SDK again, on `embeddedTransport` (the
 *   product's default, in a fresh directory under the OS temp dir per round, removed after it):
 *   there the broker's own work per message is larger, so the ratio is the cost of tracing a user
 *   of the default transport sees. Smaller rounds, as the broker is slower than memory.
 *
 * The memory transport orders deliveries with `KeyedFifo` (O(1) per delivery and ack; before it, a
 * scan over every message in flight dominated the rows with 256 in flight), so the rows with 1 and
 * with 256 in flight both show the bus's own consume cost.
 *
 * The memory transport keeps every message, so each measurement runs in rounds of a fixed number of
 * messages on a fresh transport, repeated until the measuring time is used up; the rate is the
 * messages of all rounds over their summed time. Markdown table on stdout (or JSON with `--json`),
 * progress on stderr.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedTransport } from '@herald/broker';
import {
  createBus,
  defineEvent,
  encodeEnvelope,
  memoryTransport,
  messageSizeBytes,
  type Transport,
  type TransportMessage,
} from '@herald/bus';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import type { ReceivedMessage } from '../packages/bus/src/index.ts';
import { endSpan, startProcess, startSendFrom } from '../packages/bus/src/tracing.ts';
import { format, median, parseBenchArgs, progressLine } from './_common.ts';
import {
  cpuSecondsSince,
  type Interleaved,
  measureInterleaved,
  type RatioSummary,
  type Round,
  ratioSummary,
  ratioText,
} from './_paired-rounds.ts';

const TOPIC = 'bench-events';

const BenchEvent = defineEvent('BenchEvent', {
  topic: TOPIC,
  schema: z.object({ id: z.string(), amount: z.number().int(), note: z.string() }),
  key: (event) => event.id,
});

interface Row {
  readonly name: string;
  readonly layer: 'transport' | 'bus' | 'traced';
  readonly kind: 'publish' | 'end-to-end';
  readonly publishers: number;
  /** End-to-end rows: the consumer's inFlightMax (the bus handler's concurrency). */
  readonly inFlight?: number;
  readonly messages: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  /** Bus rows: this rate divided by the transport row with the same kind and publishers. */
  readonly ratioToTransport?: number;
  /** Traced rows: this rate divided by the bus row with the same kind and publishers. */
  readonly ratioToBus?: number;
  /** Traced rows: the traced ÷ bus ratios of paired rounds, by wall time. */
  readonly pairRatio?: RatioSummary;
  /** Traced rows: the same by CPU time per message (bus ÷ traced). */
  readonly cpuRatio?: RatioSummary;
}

/** The embedded transport's pair of rows: the bus with no SDK and with one, alternating. */
interface EmbeddedRow {
  readonly name: string;
  readonly busMessagesPerSecond: number;
  readonly tracedMessagesPerSecond: number;
  /** Ratio of the summed rates. */
  readonly ratioToBus: number;
  /** The traced ÷ bus ratios of paired rounds, by wall time. */
  readonly pairRatio: RatioSummary;
  /** The same by CPU time per message (bus ÷ traced). */
  readonly cpuRatio: RatioSummary;
}

/** An exporter that drops every batch: the rows time recording and batching, not a backend. */
const droppingExporter: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
};

/** Registers an SDK as an application would: AsyncLocalStorage context, batch processor. */
function registerSdk(): () => Promise<void> {
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(droppingExporter)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  return async () => {
    trace.disable();
    context.disable();
    await provider.shutdown();
  };
}

/** A W3C `traceparent` a caller (or an upstream service) hands the bus. */
const GIVEN_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/**
 * Nanoseconds per message of the tracing calls the bus makes with no SDK registered: one send span
 * (parent lookup, start, end) and one process span (start, end), as the bus makes them. With
 * `traceparent`, the message carries a trace context (given to the send, received with the
 * message), which the calls check and pass on as text (before: parsed, validated and formatted
 * although no span records).
 */
export function noSdkHooksNs(iterations: number, traceparent?: string): number {
  const fields = {
    system: 'memory',
    source: '/bench',
    topic: TOPIC,
    id: 'id',
    type: BenchEvent.type,
    key: 'order-0',
    correlationId: 'id',
  };
  const sample = encodedSample();
  const message = {
    ...sample,
    headers: traceparent === undefined ? sample.headers : { ...sample.headers, ce_traceparent: traceparent },
    topic: TOPIC,
    partition: 0,
    offset: '0',
    deliveryAttempt: 1,
  } as ReceivedMessage;
  const once = () => {
    endSpan(startSendFrom(fields, { traceparent }, undefined).span);
    endSpan(startProcess('memory', '/bench', 'bench', message, undefined).span);
  };
  for (let n = 0; n < iterations; n++) once();
  const started = performance.now();
  for (let n = 0; n < iterations; n++) once();
  return ((performance.now() - started) * 1e6) / iterations;
}

function progress(text: string): void {
  progressLine('bus', text);
}

/** A transport that holds a whole round. */
function freshTransport(roundMessages: number): Transport {
  return memoryTransport({ messagesPerTopicMax: roundMessages });
}

/** Runs `publishers` loops that together call `publishOnce(n)` for n = 0 … total-1. */
async function publishAll(
  publishers: number,
  total: number,
  publishOnce: (n: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const loop = async (): Promise<void> => {
    // Bounded by `total`.
    while (next < total) await publishOnce(next++);
  };
  await Promise.all(Array.from({ length: publishers }, loop));
}

/** Resolves once `add()` was called `total` times. */
function countTo(total: number): { add(): void; done: Promise<void> } {
  let count = 0;
  let resolve!: () => void;
  const done = new Promise<void>((settle) => {
    resolve = settle;
  });
  return {
    add() {
      count += 1;
      if (count === total) resolve();
    },
    done,
  };
}

function event(n: number) {
  return { id: `order-${n}`, amount: n, note: 'benchmark event' };
}

/** One bus event encoded as the bus sends it; the raw rows publish these bytes with unique keys. */
function encodedSample(): TransportMessage {
  return encodeEnvelope({
    specversion: '1.0',
    id: '0197b7a2-1c3e-7a41-8f00-1234567890ab',
    source: '/bench',
    type: BenchEvent.type,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    partitionkey: 'order-0',
    correlationid: '0197b7a2-1c3e-7a41-8f00-1234567890ab',
    dataversion: 1,
    extensions: {},
    data: event(0),
  });
}

/** `inFlight` 0: publish only; otherwise one consumer with that inFlightMax acks every message. */
async function transportRound(publishers: number, total: number, inFlight: number): Promise<Round> {
  const consume = inFlight > 0;
  const transport = freshTransport(total);
  const sample = encodedSample();
  const handled = countTo(total);
  if (consume) {
    await transport.subscribe({ topic: TOPIC, group: 'bench', inFlightMax: inFlight }, async (message) => {
      await message.ack();
      handled.add();
    });
  }
  const cpuStarted = process.cpuUsage();
  const started = performance.now();
  await publishAll(publishers, total, (n) =>
    transport.publish(TOPIC, [{ key: `order-${n}`, headers: sample.headers, body: sample.body }]),
  );
  if (consume) await handled.done;
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuSecondsSince(cpuStarted);
  await transport.close();
  return { messages: total, seconds, cpuSeconds };
}

/** Which transport a bus round runs on. */
type TransportKind = 'memory' | 'embedded';

/** A bus round on a fresh transport of `kind` (an embedded one in its own temp directory). */
async function busRound(
  publishers: number,
  total: number,
  inFlight: number,
  kind: TransportKind = 'memory',
): Promise<Round> {
  if (kind === 'memory') return busRoundOn(freshTransport(total), publishers, total, inFlight);
  const directory = await mkdtemp(join(tmpdir(), 'herald-bench-bus-'));
  try {
    return await busRoundOn(await embeddedTransport({ dir: directory }), publishers, total, inFlight);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** A bus round over `transport`, which it closes (through `bus.stop()`). */
async function busRoundOn(
  transport: Transport,
  publishers: number,
  total: number,
  inFlight: number,
): Promise<Round> {
  const consume = inFlight > 0;
  const bus = createBus({ transport, source: '/bench' });
  const handled = countTo(total);
  if (consume) {
    bus.on(BenchEvent, { group: 'bench', concurrency: inFlight }, () => handled.add());
  }
  await bus.start();
  const cpuStarted = process.cpuUsage();
  const started = performance.now();
  await publishAll(publishers, total, (n) => bus.publish(BenchEvent, event(n)));
  if (consume) await handled.done;
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuSecondsSince(cpuStarted);
  await bus.stop();
  return { messages: total, seconds, cpuSeconds };
}

/** A bus round with an SDK registered for just that round. */
async function tracedRound(
  publishers: number,
  total: number,
  inFlight: number,
  kind: TransportKind = 'memory',
): Promise<Round> {
  const unregister = registerSdk();
  try {
    return await busRound(publishers, total, inFlight, kind);
  } finally {
    await unregister();
  }
}

/** Repeats rounds until `durationMs` of measured time is used; one unmeasured round warms up first. */
async function measure(durationMs: number, round: () => Promise<Round>): Promise<Round> {
  await round();
  let messages = 0;
  let seconds = 0;
  let cpuSeconds = 0;
  while (seconds * 1000 < durationMs) {
    const result = await round();
    messages += result.messages;
    seconds += result.seconds;
    cpuSeconds += result.cpuSeconds;
  }
  return { messages, seconds, cpuSeconds };
}

/** [publishers, consumer in flight (0: publish only)] of the embedded rows. */
const EMBEDDED_CASES = [
  [256, 0],
  [256, 1],
  [256, 256],
] as const;

/** The embedded rows: bus rounds with no SDK and with one, alternating (ABBA), per case. */
async function measureEmbedded(durationMs: number, roundMessages: number): Promise<EmbeddedRow[]> {
  const embedded: EmbeddedRow[] = [];
  for (const [publishers, inFlight] of EMBEDDED_CASES) {
    const pairs = await measureInterleaved(
      durationMs,
      () => busRound(publishers, roundMessages, inFlight, 'embedded'),
      () => tracedRound(publishers, roundMessages, inFlight, 'embedded'),
    );
    const [plain, withSdk] = [pairs.first, pairs.second];
    const name =
      inFlight === 0
        ? `embedded: publish, ${publishers} publishers`
        : `embedded: publish + consume + ack, ${publishers} publishers, ${inFlight} in flight`;
    const bus = plain.messages / plain.seconds;
    const traced = withSdk.messages / withSdk.seconds;
    embedded.push({
      name,
      busMessagesPerSecond: bus,
      tracedMessagesPerSecond: traced,
      ratioToBus: traced / bus,
      pairRatio: ratioSummary(pairs.ratios),
      cpuRatio: ratioSummary(pairs.cpuRatios),
    });
    progress(
      `${name}: ${format(bus)} msg/s, traced ${format(traced)} msg/s, median pair ratio ${percent(median(pairs.ratios))}, by CPU ${percent(median(pairs.cpuRatios))}`,
    );
  }
  return embedded;
}

/** The markdown table of the embedded rows. */
function embeddedTable(
  durationMs: number,
  roundMessages: number,
  embedded: readonly EmbeddedRow[],
): string[] {
  return [
    `| measurement (embeddedTransport, ${durationMs} ms each in rounds of ${format(roundMessages)}) | bus, no SDK (messages/s) | bus with SDK (messages/s) | traced ÷ bus (sums) | traced ÷ bus, median of paired rounds [quartiles] | the same by CPU per message |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...embedded.map(
      (row) =>
        `| ${row.name} | ${format(row.busMessagesPerSecond)} | ${format(row.tracedMessagesPerSecond)} | ${percent(row.ratioToBus)} | ${ratioText(row.pairRatio)} | ${ratioText(row.cpuRatio)} |`,
    ),
  ];
}

/** Entry point used by `bench/run.ts`. */
export async function run(args: string[]): Promise<void> {
  const { quick, json, flags } = parseBenchArgs(args, [], ['embedded-only']);
  const durationMs = quick ? 1000 : 4000;
  if (flags['embedded-only']) {
    // Only the rows of the product's default transport: a shorter run to compare changes by.
    const roundMessages = quick ? 2_000 : 5_000;
    const embedded = await measureEmbedded(durationMs, roundMessages);
    if (json) process.stdout.write(`${JSON.stringify({ suite: 'bus', quick, embedded }, null, 2)}\n`);
    else process.stdout.write(`${embeddedTable(durationMs, roundMessages, embedded).join('\n')}\n`);
    return;
  }
  const roundMessages = quick ? 20_000 : 50_000;
  const rows: Row[] = [];
  const record = (
    layer: Row['layer'],
    publishers: number,
    inFlight: number,
    result: Round,
    pairs?: Interleaved,
  ): void => {
    const kind: Row['kind'] = inFlight === 0 ? 'publish' : 'end-to-end';
    const messagesPerSecond = result.messages / result.seconds;
    const matching = (of: Row['layer']) =>
      rows.find(
        (row) =>
          row.layer === of &&
          row.kind === kind &&
          row.publishers === publishers &&
          row.inFlight === (inFlight === 0 ? undefined : inFlight),
      );
    const base = matching('transport');
    const untraced = matching('bus');
    const plural = publishers === 1 ? '1 publisher' : `${publishers} publishers`;
    const name =
      kind === 'publish'
        ? `${layer}: publish, ${plural}`
        : `${layer}: publish + consume + ack, ${plural}, ${inFlight} in flight`;
    rows.push({
      name,
      layer,
      kind,
      publishers,
      ...(inFlight === 0 ? {} : { inFlight }),
      messages: result.messages,
      seconds: result.seconds,
      messagesPerSecond,
      ...(layer !== 'transport' && base !== undefined
        ? { ratioToTransport: messagesPerSecond / base.messagesPerSecond }
        : {}),
      ...(layer === 'traced' && untraced !== undefined
        ? { ratioToBus: messagesPerSecond / untraced.messagesPerSecond }
        : {}),
      ...(pairs === undefined
        ? {}
        : { pairRatio: ratioSummary(pairs.ratios), cpuRatio: ratioSummary(pairs.cpuRatios) }),
    });
    progress(`${name}: ${format(messagesPerSecond)} msg/s`);
  };
  /** [publishers, consumer in flight (0: publish only)] */
  const cases = [
    [1, 0],
    [256, 0],
    [256, 1],
    [256, 256],
  ] as const;
  for (const [publishers, inFlight] of cases) {
    const result = await measure(durationMs, () => transportRound(publishers, roundMessages, inFlight));
    record('transport', publishers, inFlight, result);
  }
  // Bus rounds (no SDK) alternate with traced rounds (an SDK registered), so the ratio of the two
  // survives the load of a shared machine changing during the run.
  const traced: [number, number, Interleaved][] = [];
  for (const [publishers, inFlight] of cases) {
    const pairs = await measureInterleaved(
      durationMs,
      () => busRound(publishers, roundMessages, inFlight),
      () => tracedRound(publishers, roundMessages, inFlight),
    );
    record('bus', publishers, inFlight, pairs.first);
    traced.push([publishers, inFlight, pairs]);
  }
  // The same pairs on the embedded broker, in smaller rounds (it is slower than memory).
  const embeddedRoundMessages = quick ? 2_000 : 5_000;
  const embedded = await measureEmbedded(durationMs, embeddedRoundMessages);
  const hooksNs = noSdkHooksNs(quick ? 100_000 : 1_000_000);
  const endToEnd = rows.find((row) => row.layer === 'bus' && row.inFlight === 1)!;
  const hooksShare = hooksNs / (1e9 / endToEnd.messagesPerSecond);
  progress(`tracing hooks, no SDK: ${format(hooksNs)} ns per message (${format(hooksShare * 100, 1)}%)`);
  const carriedNs = noSdkHooksNs(quick ? 100_000 : 1_000_000, GIVEN_TRACEPARENT);
  const carriedShare = carriedNs / (1e9 / endToEnd.messagesPerSecond);
  progress(
    `tracing hooks, no SDK, a traceparent carried: ${format(carriedNs)} ns per message (${format(carriedShare * 100, 1)}%)`,
  );
  for (const [publishers, inFlight, pairs] of traced)
    record('traced', publishers, inFlight, pairs.second, pairs);
  const sample = encodedSample();
  const busMessage = { bytes: messageSizeBytes(sample), headers: Object.keys(sample.headers).length };
  if (json) {
    const report = {
      suite: 'bus',
      quick,
      durationMs,
      roundMessages,
      node: process.version,
      busMessage,
      rows,
      embeddedRoundMessages,
      embedded,
      noSdkHooks: { nsPerMessage: hooksNs, shareOfBusEndToEnd: hooksShare },
      noSdkHooksTraceparentCarried: { nsPerMessage: carriedNs, shareOfBusEndToEnd: carriedShare },
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const lines = [
    `| measurement (memoryTransport, ${durationMs} ms each in rounds of ${format(roundMessages)}) | messages | messages/s | bus ÷ transport | traced ÷ bus (sums) | traced ÷ bus, median of paired rounds [quartiles] | the same by CPU per message |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.name} | ${format(row.messages)} | ${format(row.messagesPerSecond)} | ${percent(row.ratioToTransport)} | ${percent(row.ratioToBus)} | ${ratioText(row.pairRatio)} | ${ratioText(row.cpuRatio)} |`,
    ),
    '',
    ...embeddedTable(durationMs, embeddedRoundMessages, embedded),
    '',
    `Tracing hooks with no SDK registered: ${format(hooksNs)} ns per message, ` +
      `${format(hooksShare * 100, 1)}% of the bus's end-to-end time per message (256 publishers, 1 in flight); ` +
      `${format(carriedNs)} ns, ${format(carriedShare * 100, 1)}%, when the message carries a traceparent.`,
    '',
    `Both layers send the same ${busMessage.bytes} B message (CloudEvents envelope: JSON body + ` +
      `${busMessage.headers} headers + key); the transport rows publish it pre-encoded, so the ratio ` +
      'is the cost of validating, enveloping, encoding, decoding and dispatching.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function percent(ratio: number | undefined): string {
  return ratio === undefined ? '' : `${format(ratio * 100, 1)}%`;
}
