/**
 * `npm run bench -- embedded [--quick] [--json]`: the three layers of Herald's default durable
 * path in one run, each with `fsync: 'always'`: `@herald/log` (one partition), `embeddedTransport`
 * (4 partitions) and the bus over it, so each layer is read as a ratio to the one below, next to
 * its target (issue 16).
 *
 * - Log: 100-byte records appended by 1, 16 and 256 concurrent publishers, each awaiting its
 *   one-record append in a loop for a fixed time; the 256-publisher row also shows its physical
 *   bound, P x the fdatasync rate for a write of P such appends (see `npm run bench -- log`).
 * - Transport publish: 100-byte messages (unique keys) from 1, 16 and 256 publishers, each
 *   awaiting its `transport.publish` in a loop; plus 256 publishers sending 100 messages per call.
 *   The one-message rows are divided by the log row with the same publishers.
 * - End to end: 256 publishers for a fixed time while one group (inFlightMax 256) consumes and
 *   acks; the rate counts acked messages up to the moment the last one is acked.
 * - The same through `createBus` (`bus.publish` of a small zod-validated event; `bus.on` with
 *   concurrency 256), divided by the matching transport row; end to end once without and once with
 *   the SQLite idempotency store `herald`'s `createBus` adds by default.
 * - Bus latency under load: open loop at 10,000 events/s (without and with idempotency) and 50,000
 *   (with), p99 from each event's scheduled send to its handler, and whether the bus kept up.
 *
 * Markdown table on stdout (or JSON with `--json`), progress on stderr. Every measurement uses a
 * fresh directory under the OS temp dir; all are removed at the end.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { embeddedTransport } from '@herald/broker';
import { createBus, defineEvent, messageSizeBytes, type TransportMessage } from '@herald/bus';
import { openPartition } from '@herald/log';
import { sqliteIdempotencyStore } from 'herald';
import { z } from 'zod';
import { format, openLoop, parseBenchArgs, progressLine, summarize } from './_common.ts';
import {
  BUS_P99_MS_TARGET,
  type Layer,
  LOG_BOUND_TARGET,
  measuredRow,
  type RateRow,
  type Row,
  reportLines,
} from './_embedded-report.ts';
import { measureSyncBound } from './log.ts';

const MESSAGE_BYTES = 100;
const CONSUMER_IN_FLIGHT = 256;
/** Longest wait for a group to catch up after publishing stops, in multiples of the publishing time. */
const DRAIN_TIMEOUT_FACTOR = 10;

const BenchEvent = defineEvent('BenchEvent', {
  topic: 'bench-events',
  schema: z.object({ id: z.string(), amount: z.number().int(), note: z.string() }),
  key: (event) => event.id,
});

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

/** The bus over a fresh embedded transport in `directory`, with the SQLite idempotency store if asked. */
async function openBus(directory: string, idempotent: boolean) {
  return createBus({
    transport: await embeddedTransport({ dir: directory }),
    source: '/bench',
    ...(idempotent
      ? { idempotency: sqliteIdempotencyStore({ path: path.join(directory, 'idempotency.sqlite') }) }
      : {}),
  });
}

async function busEndToEnd(
  directory: string,
  publishers: number,
  durationMs: number,
  idempotent: boolean,
): Promise<{ messages: number; seconds: number }> {
  const bus = await openBus(directory, idempotent);
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

/** One partition of `@herald/log` (fsync 'always'), `publishers` loops appending one 100-byte record each. */
async function logPublish(
  directory: string,
  publishers: number,
  durationMs: number,
): Promise<{ messages: number; seconds: number }> {
  const partition = await openPartition({ directory, fsync: 'always' });
  try {
    const records = [{ value: new Uint8Array(MESSAGE_BYTES).fill(7) }];
    const started = performance.now();
    const messages = await publishFor(publishers, 1, durationMs, async () => {
      await partition.append(records);
    });
    return { messages, seconds: (performance.now() - started) / 1000 };
  } finally {
    await partition.close();
  }
}

/**
 * The bus (idempotency on) at `ratePerSecond` arrivals, open loop: latency runs from each event's
 * scheduled send to its handler, so queueing anywhere counts. Kept up: the loop never backed up
 * past a quarter second of arrivals, everything arrived within the drain time, and the achieved
 * rate is at least 90% of the target.
 */
export async function busAtRate(
  directory: string,
  ratePerSecond: number,
  durationMs: number,
  idempotent: boolean,
): Promise<RateRow> {
  const bus = await openBus(directory, idempotent);
  try {
    const scheduledMs = new Map<number, number>();
    const latenciesMs: number[] = [];
    const handled = counter(durationMs * DRAIN_TIMEOUT_FACTOR);
    bus.on(BenchEvent, { group: 'bench', concurrency: CONSUMER_IN_FLIGHT }, (event) => {
      const sentMs = scheduledMs.get(event.amount);
      if (sentMs !== undefined) latenciesMs.push(performance.now() - sentMs);
      scheduledMs.delete(event.amount);
      handled.add();
    });
    await bus.start();
    const backlogMax = Math.max(500, ratePerSecond / 4);
    const result = await openLoop({
      ratePerSecond,
      durationMs,
      count: Number.MAX_SAFE_INTEGER,
      outstandingMax: backlogMax,
      isBacklogged: () => scheduledMs.size > backlogMax,
      send: async (index, atMs) => {
        scheduledMs.set(index, atMs);
        await bus.publish(BenchEvent, { id: `order-${index}`, amount: index, note: 'benchmark event' });
      },
    });
    let drained = true;
    await handled.reached(result.completed).catch(() => {
      drained = false;
    });
    const summary = summarize(latenciesMs);
    const achievedPerSecond = handled.count / result.seconds;
    return {
      name: `${idempotent ? 'bus + idempotency' : 'bus'}: end to end at ${format(ratePerSecond)} events/s (open loop)`,
      ratePerSecond,
      achievedPerSecond,
      delivered: handled.count,
      p50Ms: summary.p50,
      p99Ms: summary.p99,
      keptUp: !result.saturated && drained && achievedPerSecond >= 0.9 * ratePerSecond,
      ...(ratePerSecond === 10_000 && idempotent ? { p99MsTarget: BUS_P99_MS_TARGET } : {}),
    };
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
  const rates: RateRow[] = [];
  const record = (
    layer: Layer,
    kind: Row['kind'],
    publishers: number,
    messagesPerCall: number,
    result: { messages: number; seconds: number },
    bound?: Row['bound'],
  ): void => {
    rows.push(measuredRow(rows, layer, kind, publishers, messagesPerCall, result, bound));
    const row = rows.at(-1)!;
    progress(`${row.name}: ${format(row.messagesPerSecond)} msg/s`);
  };
  try {
    for (const publishers of [1, 16, 256]) {
      const result = await logPublish(directory(), publishers, durationMs);
      let bound: Row['bound'];
      if (publishers === 256) {
        const { syncsPerSecond } = measureSyncBound(root, publishers, 1, durationMs / 2);
        if (syncsPerSecond !== undefined)
          bound = { recordsPerSecond: publishers * syncsPerSecond, syncsPerSecond, target: LOG_BOUND_TARGET };
      }
      record('log', 'publish', publishers, 1, result, bound);
    }
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
    record('bus', 'end-to-end', 256, 1, await busEndToEnd(directory(), 256, durationMs, false));
    record('bus + idempotency', 'end-to-end', 256, 1, await busEndToEnd(directory(), 256, durationMs, true));
    // Without the idempotency store too, so its share of the latency shows.
    for (const [ratePerSecond, idempotent] of [
      [10_000, false],
      [10_000, true],
      [50_000, true],
    ] as const) {
      const rate = await busAtRate(directory(), ratePerSecond, durationMs, idempotent);
      rates.push(rate);
      progress(`${rate.name}: p99 ${format(rate.p99Ms, 2)} ms, kept up: ${rate.keptUp ? 'yes' : 'NO'}`);
    }
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
      rates,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${reportLines(rows, rates, durationMs, rawBytes, busMessage).join('\n')}\n`);
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
