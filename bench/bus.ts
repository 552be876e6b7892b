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
 * The memory transport orders deliveries with `KeyedFifo` (O(1) per delivery and ack; before it, a
 * scan over every message in flight dominated the rows with 256 in flight), so the rows with 1 and
 * with 256 in flight both show the bus's own consume cost.
 *
 * The memory transport keeps every message, so each measurement runs in rounds of a fixed number of
 * messages on a fresh transport, repeated until the measuring time is used up; the rate is the
 * messages of all rounds over their summed time. Markdown table on stdout (or JSON with `--json`),
 * progress on stderr.
 */
import {
  createBus,
  defineEvent,
  encodeEnvelope,
  memoryTransport,
  messageSizeBytes,
  type Transport,
  type TransportMessage,
} from '@herald/bus';
import { z } from 'zod';
import { format, parseBenchArgs, progressLine } from './_common.ts';

const TOPIC = 'bench-events';

const BenchEvent = defineEvent('BenchEvent', {
  topic: TOPIC,
  schema: z.object({ id: z.string(), amount: z.number().int(), note: z.string() }),
  key: (event) => event.id,
});

interface Row {
  readonly name: string;
  readonly layer: 'transport' | 'bus';
  readonly kind: 'publish' | 'end-to-end';
  readonly publishers: number;
  /** End-to-end rows: the consumer's inFlightMax (the bus handler's concurrency). */
  readonly inFlight?: number;
  readonly messages: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  /** Bus rows: this rate divided by the transport row with the same kind and publishers. */
  readonly ratioToTransport?: number;
}

/** One measured round: how many messages went through, and how long it took. */
interface Round {
  readonly messages: number;
  readonly seconds: number;
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
  const started = performance.now();
  await publishAll(publishers, total, (n) =>
    transport.publish(TOPIC, [{ key: `order-${n}`, headers: sample.headers, body: sample.body }]),
  );
  if (consume) await handled.done;
  const seconds = (performance.now() - started) / 1000;
  await transport.close();
  return { messages: total, seconds };
}

async function busRound(publishers: number, total: number, inFlight: number): Promise<Round> {
  const consume = inFlight > 0;
  const bus = createBus({ transport: freshTransport(total), source: '/bench' });
  const handled = countTo(total);
  if (consume) {
    bus.on(BenchEvent, { group: 'bench', concurrency: inFlight }, () => handled.add());
  }
  await bus.start();
  const started = performance.now();
  await publishAll(publishers, total, (n) => bus.publish(BenchEvent, event(n)));
  if (consume) await handled.done;
  const seconds = (performance.now() - started) / 1000;
  await bus.stop();
  return { messages: total, seconds };
}

/** Repeats rounds until `durationMs` of measured time is used; one unmeasured round warms up first. */
async function measure(durationMs: number, round: () => Promise<Round>): Promise<Round> {
  await round();
  let messages = 0;
  let seconds = 0;
  while (seconds * 1000 < durationMs) {
    const result = await round();
    messages += result.messages;
    seconds += result.seconds;
  }
  return { messages, seconds };
}

/** Entry point used by `bench/run.ts`. */
export async function run(args: string[]): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const durationMs = quick ? 1000 : 4000;
  const roundMessages = quick ? 20_000 : 50_000;
  const rows: Row[] = [];
  const record = (layer: Row['layer'], publishers: number, inFlight: number, result: Round): void => {
    const kind: Row['kind'] = inFlight === 0 ? 'publish' : 'end-to-end';
    const messagesPerSecond = result.messages / result.seconds;
    const base = rows.find(
      (row) =>
        row.layer === 'transport' &&
        row.kind === kind &&
        row.publishers === publishers &&
        row.inFlight === (inFlight === 0 ? undefined : inFlight),
    );
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
      ...(layer === 'bus' && base !== undefined
        ? { ratioToTransport: messagesPerSecond / base.messagesPerSecond }
        : {}),
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
  for (const [publishers, inFlight] of cases) {
    const result = await measure(durationMs, () => busRound(publishers, roundMessages, inFlight));
    record('bus', publishers, inFlight, result);
  }
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
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const lines = [
    `| measurement (memoryTransport, ${durationMs} ms each in rounds of ${format(roundMessages)}) | messages | messages/s | bus ÷ transport |`,
    '| --- | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.name} | ${format(row.messages)} | ${format(row.messagesPerSecond)} | ${row.ratioToTransport === undefined ? '' : `${format(row.ratioToTransport * 100, 1)}%`} |`,
    ),
    '',
    `Both layers send the same ${busMessage.bytes} B message (CloudEvents envelope: JSON body + ` +
      `${busMessage.headers} headers + key); the transport rows publish it pre-encoded, so the ratio ` +
      'is the cost of validating, enveloping, encoding, decoding and dispatching.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
