/**
 * The "Herald transport vs raw client" runner shared by the broker suites (`rabbitmq`, `nats`,
 * `redis`, `aws`; not a suite itself: `bench/run.ts` skips files starting with `_`). A suite
 * supplies how its raw client and its Herald transport publish and consume; this module parses
 * `--quick` / `--json`, times both sides on the same messages and prints the comparison.
 *
 * For each payload size (100 B and 1 KiB):
 *
 * - Publish: `publishers` concurrent loops, one message per call, each awaiting the broker's
 *   acknowledgement, for a fixed time.
 * - Consume: the broker is filled through the raw client, then drained by each side; a side times
 *   itself from the first delivery to the last acknowledgement (see {@link heraldDrainRate}).
 *
 * The broker's speed drifts (log segments, two CPUs shared with this process), so full runs
 * alternate which side goes first over 3 rounds and report each side's median. Markdown table on
 * stdout (or JSON with `--json`), progress on stderr.
 */
import type { SubscribeOptions, Transport } from '@herald/bus';
import { median, parseBenchArgs, progressLine } from './_common.ts';

/** Most time one consume measurement may take before the benchmark fails. */
export const CONSUME_TIMEOUT_MS = 120_000;
/** The target: Herald's rate at least this share of the raw client's. */
const RATIO_TARGET = 0.85;
const PAYLOAD_BYTES = [100, 1024] as const;
/** Rounds of a full run; a `--quick` run does one. */
const ROUNDS_FULL = 3;
/** The sizes the local brokers (RabbitMQ, NATS, Redis) run at; a slower one (moto) sets its own. */
const PUBLISHERS_DEFAULT = 64;
const FILL_BATCH_DEFAULT = 500;
const QUICK_DEFAULT: RunSizes = { publishMs: 1_500, consumeCount: 5_000 };
const FULL_DEFAULT: RunSizes = { publishMs: 5_000, consumeCount: 50_000 };

/** One payload size's four measurements, built by the suite. */
export interface PayloadSides {
  /** Publishes message `index` through the raw client; resolves on the broker's acknowledgement. */
  rawPublish(index: number): Promise<unknown>;
  /** Publishes message `index` through the Herald transport; resolves once it is acknowledged. */
  heraldPublish(index: number): Promise<unknown>;
  /** Runs after each publish measurement (e.g. purging what it left behind). */
  afterPublish?(): Promise<unknown>;
  /** Runs before each fill (e.g. emptying the stream). */
  beforeFill?(): Promise<unknown>;
  /** Adds message `index` while filling for a consume measurement (default: {@link rawPublish}). */
  fillOne?(index: number): Promise<unknown>;
  /** Drains `count` messages through the raw client; messages per second. */
  rawConsume(count: number): Promise<number>;
  /** Drains `count` messages through the Herald transport; messages per second. */
  heraldConsume(count: number): Promise<number>;
}

/** What a suite's set-up opened: the sides per payload size and how to clean up. */
export interface OpenedSuite {
  /**
   * Creates what both sides use (exchanges, streams, queues) before the first measurement; the
   * runner calls {@link close} even when this fails, so it may leave things half made.
   */
  prepare?(): Promise<void>;
  /** The four measurements for messages of `payloadBytes`. */
  sides(payloadBytes: number): PayloadSides;
  /** Closes the clients and deletes what the run created; runs even when a measurement failed. */
  close(): Promise<void>;
}

/** How a quick and a full run size one measurement. */
export interface RunSizes {
  /** How long each publish measurement runs. */
  readonly publishMs: number;
  /** Messages each consume measurement drains. */
  readonly consumeCount: number;
}

/** One broker's suite. */
export interface TransportOverheadSuite {
  /** The suite's name, as given to `npm run bench --` and in progress lines and JSON. */
  readonly name: string;
  /** The raw client's name in the table heading (`amqplib`, `ioredis`, ...). */
  readonly rawClient: string;
  /** The first column's heading (default `operation`). */
  readonly operationHeading?: string;
  /** Fields added to the JSON output (e.g. the emulator the figures come from). */
  readonly jsonFields?: Readonly<Record<string, unknown>>;
  /** Concurrent publish loops (default 64). */
  readonly publishers?: number;
  /** Messages added per acknowledgement wait while filling (default 500). */
  readonly fillBatch?: number;
  /** Measurement sizes of a `--quick` run (default 1.5 s of publishing, 5,000 messages consumed). */
  readonly quick?: RunSizes;
  /** Measurement sizes of a full run (default 5 s of publishing, 50,000 messages consumed). */
  readonly full?: RunSizes;
  /** Connects both sides; what they share is made in {@link OpenedSuite.prepare}. */
  open(): Promise<OpenedSuite>;
}

interface Row {
  readonly operation: 'publish' | 'consume';
  readonly payloadBytes: number;
  readonly rawPerSecond: number;
  readonly heraldPerSecond: number;
  readonly ratio: number;
  readonly overheadPercent: number;
}

type Measurement = 'rawPublish' | 'heraldPublish' | 'rawConsume' | 'heraldConsume';

/** Runs `suite` with the command-line `args` (`--quick`, `--json`) and prints its table. */
export async function runTransportOverhead(
  suite: TransportOverheadSuite,
  args: readonly string[],
): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const sizes = quick ? (suite.quick ?? QUICK_DEFAULT) : (suite.full ?? FULL_DEFAULT);
  const rounds = quick ? 1 : ROUNDS_FULL;
  const opened = await suite.open();
  const rows: Row[] = [];
  try {
    await opened.prepare?.();
    for (const payloadBytes of PAYLOAD_BYTES) {
      const sides = opened.sides(payloadBytes);
      const measure = measurements(suite, sides, sizes);
      const rates: Record<Measurement, number[]> = {
        rawPublish: [],
        heraldPublish: [],
        rawConsume: [],
        heraldConsume: [],
      };
      for (let round = 0; round < rounds; round++) {
        const order: Measurement[] =
          round % 2 === 0
            ? ['rawPublish', 'heraldPublish', 'rawConsume', 'heraldConsume']
            : ['heraldPublish', 'rawPublish', 'heraldConsume', 'rawConsume'];
        for (const name of order) {
          progressLine(suite.name, `${payloadBytes} B, round ${round + 1}/${rounds}: ${name}`);
          rates[name].push(await measure[name]());
        }
      }
      rows.push(row('publish', payloadBytes, median(rates.rawPublish), median(rates.heraldPublish)));
      rows.push(row('consume', payloadBytes, median(rates.rawConsume), median(rates.heraldConsume)));
    }
  } finally {
    await opened.close();
  }
  report(suite, rows, json);
}

function measurements(
  suite: TransportOverheadSuite,
  sides: PayloadSides,
  sizes: RunSizes,
): Record<Measurement, () => Promise<number>> {
  const publish = async (publishOnce: (index: number) => Promise<unknown>) => {
    const rate = await publishRate(suite.publishers ?? PUBLISHERS_DEFAULT, sizes.publishMs, publishOnce);
    await sides.afterPublish?.();
    return rate;
  };
  const fill = async () => {
    await sides.beforeFill?.();
    const fillOne = sides.fillOne ?? sides.rawPublish;
    const batch = suite.fillBatch ?? FILL_BATCH_DEFAULT;
    // Bounded by consumeCount, one batch in flight at a time.
    for (let start = 0; start < sizes.consumeCount; start += batch) {
      const count = Math.min(batch, sizes.consumeCount - start);
      await Promise.all(Array.from({ length: count }, (_, offset) => fillOne(start + offset)));
    }
  };
  return {
    rawPublish: () => publish((index) => sides.rawPublish(index)),
    heraldPublish: () => publish((index) => sides.heraldPublish(index)),
    rawConsume: async () => {
      await fill();
      return sides.rawConsume(sizes.consumeCount);
    },
    heraldConsume: async () => {
      await fill();
      return sides.heraldConsume(sizes.consumeCount);
    },
  };
}

/** Runs `publishers` loops of `publishOnce` for `durationMs`; returns messages per second. */
async function publishRate(
  publishers: number,
  durationMs: number,
  publishOnce: (index: number) => Promise<unknown>,
): Promise<number> {
  let sent = 0;
  const started = performance.now();
  const stopAt = started + durationMs;
  await Promise.all(
    Array.from({ length: publishers }, async () => {
      // Bounded by time.
      while (performance.now() < stopAt) await publishOnce(sent++);
    }),
  );
  return sent / ((performance.now() - started) / 1000);
}

/**
 * Resolves `done` once `count()` reaches `target`, checked on each `check()` (call it on every
 * acknowledgement); rejects after {@link CONSUME_TIMEOUT_MS}.
 */
export function drainedTo(target: number, count: () => number): { check(): void; done: Promise<void> } {
  const done = Promise.withResolvers<void>();
  const timer = setTimeout(
    () => done.reject(new Error(`consumed ${count()} of ${target} within ${CONSUME_TIMEOUT_MS} ms`)),
    CONSUME_TIMEOUT_MS,
  );
  return {
    check() {
      if (count() >= target) {
        clearTimeout(timer);
        done.resolve();
      }
    },
    done: done.promise,
  };
}

/**
 * Drains `count` messages through one Herald subscription (`options`), acking each; messages per
 * second from the first delivery to the last ack, so the one-off set-up at subscribe time is not
 * counted as throughput. Rejects after {@link CONSUME_TIMEOUT_MS}.
 */
export async function heraldDrainRate(
  transport: Transport,
  options: SubscribeOptions,
  count: number,
): Promise<number> {
  let consumed = 0;
  const drained = drainedTo(count, () => consumed);
  let started = 0;
  const subscription = await transport.subscribe(options, async (received) => {
    if (started === 0) started = performance.now();
    await received.ack();
    consumed += 1;
    drained.check();
  });
  try {
    await drained.done;
    return count / ((performance.now() - started) / 1000);
  } finally {
    await subscription.close();
  }
}

function row(operation: Row['operation'], payloadBytes: number, raw: number, herald: number): Row {
  const ratio = herald / raw;
  return {
    operation,
    payloadBytes,
    rawPerSecond: Math.round(raw),
    heraldPerSecond: Math.round(herald),
    ratio: Number(ratio.toFixed(3)),
    overheadPercent: Number(((1 - ratio) * 100).toFixed(1)),
  };
}

function report(suite: TransportOverheadSuite, rows: readonly Row[], json: boolean): void {
  if (json) {
    const output = { suite: suite.name, ...suite.jsonFields, ratioTarget: RATIO_TARGET, rows };
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    return;
  }
  const lines = [
    `| ${suite.operationHeading ?? 'operation'} | payload | raw ${suite.rawClient} msg/s | Herald msg/s | Herald / raw | overhead (target ≤ ${Math.round((1 - RATIO_TARGET) * 100)}%) |`,
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (entry) =>
        `| ${entry.operation} | ${entry.payloadBytes} B | ${entry.rawPerSecond} | ${entry.heraldPerSecond} | ` +
        `${entry.ratio.toFixed(2)} | ${entry.overheadPercent.toFixed(1)}% |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
