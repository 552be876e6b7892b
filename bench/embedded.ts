/**
 * `npm run bench -- embedded [--quick] [--json]`: throughput of `embeddedTransport` with its
 * default durability (`fsync: 'always'`, 4 partitions), raw and through the bus, in the same run.
 *
 * - Publish: 100-byte messages (unique keys) from 1, 16 and 256 concurrent publishers, each
 *   awaiting its `transport.publish` in a loop for a fixed time; plus 256 publishers sending 100
 *   messages per call.
 * - End to end: 256 publishers for a fixed time while one group (inFlightMax 256) consumes and
 *   acks; the rate counts acked messages up to the moment the last one is acked.
 * - The same through `createBus` (`bus.publish` of a small zod-validated event; `bus.on` with
 *   concurrency 256), shown as a ratio to the matching transport row. The bus publishes one event
 *   per call, so it has no batch row.
 *
 * Markdown table on stdout (or JSON with `--json`), progress on stderr. Every measurement uses a
 * fresh directory under the OS temp dir; all are removed at the end.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedTransport } from '@herald/broker';
import { createBus, defineEvent, messageSizeBytes, type TransportMessage } from '@herald/bus';
import { z } from 'zod';
import { format, parseBenchArgs, progressLine } from './_common.ts';

const MESSAGE_BYTES = 100;
const CONSUMER_IN_FLIGHT = 256;
/** Longest wait for a group to catch up after publishing stops, in multiples of the publishing time. */
const DRAIN_TIMEOUT_FACTOR = 10;

const BenchEvent = defineEvent('BenchEvent', {
  topic: 'bench-events',
  schema: z.object({ id: z.string(), amount: z.number().int(), note: z.string() }),
  key: (event) => event.id,
});

interface Row {
  readonly name: string;
  readonly layer: 'transport' | 'bus';
  readonly kind: 'publish' | 'end-to-end';
  readonly publishers: number;
  readonly messagesPerCall: number;
  readonly messages: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  /** Bus rows: this rate divided by the transport row with the same kind and publishers. */
  readonly ratioToTransport?: number;
}

function progress(text: string): void {
  progressLine('embedded', text);
}

/** Counts handled messages; `reached(n)` resolves once `n` are counted, rejects after `timeoutMs`. */
function counter(timeoutMs: number) {
  let count = 0;
  let waiter: { target: number; resolve: () => void } | undefined;
  return {
    get count() {
      return count;
    },
    add(): void {
      count += 1;
      if (waiter !== undefined && count >= waiter.target) waiter.resolve();
    },
    reached(target: number): Promise<void> {
      if (count >= target) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the group handled ${count} of ${target} messages within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiter = {
          target,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    },
  };
}

/** Runs `publishers` loops calling `publishOnce` until `durationMs` passed; returns messages sent. */
async function publishFor(
  publishers: number,
  messagesPerCall: number,
  durationMs: number,
  publishOnce: (publisher: number) => Promise<void>,
): Promise<number> {
  let sent = 0;
  const stopAt = performance.now() + durationMs;
  const loop = async (publisher: number): Promise<void> => {
    // Bounded by time.
    while (performance.now() < stopAt) {
      await publishOnce(publisher);
      sent += messagesPerCall;
    }
  };
  await Promise.all(Array.from({ length: publishers }, (_, publisher) => loop(publisher)));
  return sent;
}

/** A generator of raw transport messages: 100-byte body, unique key. */
function rawMessages() {
  const body = new Uint8Array(MESSAGE_BYTES).fill(7);
  let next = 0;
  return (count: number): TransportMessage[] =>
    Array.from({ length: count }, () => ({ key: `k-${next++}`, headers: {}, body }));
}

/** A generator of bus events with unique ids. */
function busEvents() {
  let next = 0;
  return () => ({ id: `order-${next++}`, amount: next, note: 'benchmark event' });
}

async function transportPublish(
  directory: string,
  publishers: number,
  messagesPerCall: number,
  durationMs: number,
): Promise<{ messages: number; seconds: number }> {
  const transport = await embeddedTransport({ dir: directory });
  try {
    const make = rawMessages();
    const started = performance.now();
    const messages = await publishFor(publishers, messagesPerCall, durationMs, () =>
      transport.publish('bench', make(messagesPerCall)),
    );
    return { messages, seconds: (performance.now() - started) / 1000 };
  } finally {
    await transport.close();
  }
}

async function transportEndToEnd(
  directory: string,
  publishers: number,
  durationMs: number,
): Promise<{ messages: number; seconds: number }> {
  const transport = await embeddedTransport({ dir: directory });
  try {
    const handled = counter(durationMs * DRAIN_TIMEOUT_FACTOR);
    await transport.subscribe(
      { topic: 'bench', group: 'bench', inFlightMax: CONSUMER_IN_FLIGHT },
      async (message) => {
        await message.ack();
        handled.add();
      },
    );
    const make = rawMessages();
    const started = performance.now();
    const messages = await publishFor(publishers, 1, durationMs, () => transport.publish('bench', make(1)));
    await handled.reached(messages);
    return { messages: handled.count, seconds: (performance.now() - started) / 1000 };
  } finally {
    await transport.close();
  }
}

async function busPublish(
  directory: string,
  publishers: number,
  durationMs: number,
): Promise<{ messages: number; seconds: number }> {
  const bus = createBus({ transport: await embeddedTransport({ dir: directory }), source: '/bench' });
  try {
    await bus.start();
    const make = busEvents();
    const started = performance.now();
    const messages = await publishFor(publishers, 1, durationMs, async () => {
      await bus.publish(BenchEvent, make());
    });
    return { messages, seconds: (performance.now() - started) / 1000 };
  } finally {
    await bus.stop();
  }
}

async function busEndToEnd(
  directory: string,
  publishers: number,
  durationMs: number,
): Promise<{ messages: number; seconds: number }> {
  const bus = createBus({ transport: await embeddedTransport({ dir: directory }), source: '/bench' });
  try {
    const handled = counter(durationMs * DRAIN_TIMEOUT_FACTOR);
    bus.on(BenchEvent, { group: 'bench', concurrency: CONSUMER_IN_FLIGHT }, () => handled.add());
    await bus.start();
    const make = busEvents();
    const started = performance.now();
    const messages = await publishFor(publishers, 1, durationMs, async () => {
      await bus.publish(BenchEvent, make());
    });
    await handled.reached(messages);
    return { messages: handled.count, seconds: (performance.now() - started) / 1000 };
  } finally {
    await bus.stop();
  }
}

/** Entry point used by `bench/run.ts`. */
export async function run(args: string[]): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const durationMs = quick ? 1000 : 3000;
  const root = await mkdtemp(path.join(tmpdir(), 'herald-embedded-bench-'));
  let runs = 0;
  const directory = () => path.join(root, `run-${runs++}`);
  const rows: Row[] = [];
  const record = (
    layer: Row['layer'],
    kind: Row['kind'],
    publishers: number,
    messagesPerCall: number,
    result: { messages: number; seconds: number },
  ): void => {
    const messagesPerSecond = result.messages / result.seconds;
    const base = rows.find(
      (row) =>
        row.layer === 'transport' &&
        row.kind === kind &&
        row.publishers === publishers &&
        row.messagesPerCall === messagesPerCall,
    );
    const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
    const name =
      kind === 'publish'
        ? `${layer}: publish, ${plural(publishers, 'publisher')}, ${plural(messagesPerCall, 'message')} per call`
        : `${layer}: publish + consume + ack, ${plural(publishers, 'publisher')}`;
    rows.push({
      name,
      layer,
      kind,
      publishers,
      messagesPerCall,
      messages: result.messages,
      seconds: result.seconds,
      messagesPerSecond,
      ...(layer === 'bus' && base !== undefined
        ? { ratioToTransport: messagesPerSecond / base.messagesPerSecond }
        : {}),
    });
    progress(`${name}: ${format(messagesPerSecond)} msg/s`);
  };
  try {
    for (const [publishers, perCall] of [
      [1, 1],
      [16, 1],
      [256, 1],
      [256, 100],
    ] as const) {
      record(
        'transport',
        'publish',
        publishers,
        perCall,
        await transportPublish(directory(), publishers, perCall, durationMs),
      );
    }
    record('transport', 'end-to-end', 256, 1, await transportEndToEnd(directory(), 256, durationMs));
    for (const publishers of [1, 16, 256]) {
      record('bus', 'publish', publishers, 1, await busPublish(directory(), publishers, durationMs));
    }
    record('bus', 'end-to-end', 256, 1, await busEndToEnd(directory(), 256, durationMs));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  // What one bus event weighs on the wire, so the ratio is read knowing the messages differ.
  const sample = await captureBusMessage();
  const busMessage = { bytes: messageSizeBytes(sample), headers: Object.keys(sample.headers).length };
  const rawBytes = messageSizeBytes(rawMessages()(1)[0]!);
  if (json) {
    const report = {
      suite: 'embedded',
      quick,
      durationMs,
      node: process.version,
      rawBytes,
      busMessage,
      rows,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const lines = [
    `| measurement (${durationMs} ms of publishing each; fsync 'always') | messages | messages/s | bus ÷ transport |`,
    '| --- | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.name} | ${format(row.messages)} | ${format(row.messagesPerSecond)} | ${row.ratioToTransport === undefined ? '' : `${format(row.ratioToTransport * 100, 1)}%`} |`,
    ),
  ];
  lines.push(
    '',
    `Raw messages: ${rawBytes} B (100 B body + key). Bus events: ${busMessage.bytes} B ` +
      `(CloudEvents envelope: JSON body + ${busMessage.headers} headers + key). ` +
      'Ratios compare messages per second.',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** One encoded bus event as the bus hands it to the transport. */
async function captureBusMessage(): Promise<TransportMessage> {
  let captured: TransportMessage | undefined;
  const bus = createBus({
    transport: {
      name: 'capture',
      features: {
        consumerGroups: true,
        persistent: false,
        replaysToNewGroups: true,
        orderedPerKey: true,
        exactlyOnce: false,
        messageBytesMax: 1024 * 1024,
      },
      publish: async (_topic, messages) => {
        captured = messages[0];
      },
      subscribe: async () => ({ close: async () => {} }),
      close: async () => {},
    },
    source: '/bench',
  });
  await bus.publish(BenchEvent, busEvents()());
  await bus.stop();
  if (captured === undefined) throw new Error('the bus published nothing');
  return captured;
}
