/**
 * `npm run bench -- rabbitmq [--quick] [--json]`: Herald-on-RabbitMQ against the raw client
 * (amqplib) in the same run, on the local broker (`amqp://guest:guest@127.0.0.1:5672`, or
 * `HERALD_RABBITMQ_URL`), with 100-byte and 1 KiB payloads.
 *
 * Both sides do the same broker work, so the ratio measures Herald's client-side cost: the raw
 * client publishes the same messages (same headers, persistent, mandatory, confirms) into the same
 * topology the transport declared (topic exchange → group headers exchange → 4 quorum shard
 * queues), and consumes the same queues with the same prefetch, acking each message.
 *
 * Full runs alternate the order of the two sides over 3 rounds and report each side's median.
 *
 * - Publish: 64 concurrent publishers, one message per call, each awaiting its confirm, for a
 *   fixed time.
 * - Consume: the queues are filled, then drained by one consumer (prefetch 256 per shard) that acks
 *   each message; timed from the first delivery to the last ack, so the transport's one-off
 *   declarations at subscribe time are not counted as throughput.
 *
 * Markdown table on stdout (or JSON with `--json`), progress on stderr. Every exchange and queue
 * is deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import type { TransportMessage } from '@herald/bus';
import { rabbitMqTransport, shardForKey } from '@herald/transport-rabbitmq';
import { type ConfirmChannel, connect } from 'amqplib';
import { median, parseBenchArgs, progressLine } from './_common.ts';

const URL =
  process.env.HERALD_RABBITMQ_URL ??
  `amqp://guest:guest@127.0.0.1:${process.env.HERALD_RABBITMQ_PORT ?? 5672}`;
const PAYLOAD_BYTES = [100, 1024] as const;
const PUBLISHERS = 64;
const PREFETCH = 256;
const SHARDS = 4;
const TOPIC = 'bench';
const GROUP = 'bench';
/** Most time a consume measurement may take before the benchmark fails. */
const CONSUME_TIMEOUT_MS = 120_000;
/** Messages filled per confirm wait while preparing a consume measurement. */
const FILL_BATCH = 500;
/** The target: Herald's rate at least this share of the raw client's. */
const RATIO_TARGET = 0.85;

interface Row {
  readonly operation: 'publish' | 'consume';
  readonly payloadBytes: number;
  readonly rawPerSecond: number;
  readonly heraldPerSecond: number;
  readonly ratio: number;
  readonly overheadPercent: number;
}

function progress(text: string): void {
  progressLine('rabbitmq', text);
}

/** The headers the transport writes for a keyed, untyped message, so the raw side routes identically. */
function rawHeaders(key: string): Record<string, string> {
  return {
    'x-bench': 'yes',
    'herald-shard': String(shardForKey(key, SHARDS)),
    'herald-timestamp-ms': String(Date.now()),
    'herald-key': key,
  };
}

/** Publishes one message on a confirm channel; resolves on the confirm. */
function rawPublish(channel: ConfirmChannel, exchange: string, key: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.publish(
      exchange,
      'herald.untyped',
      body,
      {
        headers: rawHeaders(key),
        persistent: true,
        mandatory: true,
        timestamp: Math.floor(Date.now() / 1000),
      },
      (error) => (error ? reject(error) : resolve()),
    );
  });
}

/** Runs {@link PUBLISHERS} loops of `publishOnce` for `durationMs`; returns messages per second. */
async function publishRate(
  durationMs: number,
  publishOnce: (index: number) => Promise<void>,
): Promise<number> {
  let sent = 0;
  const started = performance.now();
  const stopAt = started + durationMs;
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async () => {
      // Bounded by time.
      while (performance.now() < stopAt) await publishOnce(sent++);
    }),
  );
  return sent / ((performance.now() - started) / 1000);
}

/** Resolves once `count()` reaches `target`, checking on every handled message. */
function drainedTo(target: number, count: () => number): { check(): void; done: Promise<void> } {
  let resolve: () => void = () => {};
  let reject: (error: Error) => void = () => {};
  const done = new Promise<void>((resolveDone, rejectDone) => {
    resolve = resolveDone;
    reject = rejectDone;
  });
  const timer = setTimeout(
    () => reject(new Error(`consumed ${count()} of ${target} within ${CONSUME_TIMEOUT_MS} ms`)),
    CONSUME_TIMEOUT_MS,
  );
  return {
    check() {
      if (count() >= target) {
        clearTimeout(timer);
        resolve();
      }
    },
    done,
  };
}

export async function run(args: string[]): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const publishMs = quick ? 1_500 : 5_000;
  const consumeCount = quick ? 5_000 : 50_000;
  const rounds = quick ? 1 : 3;
  const prefix = `herald-bench.${randomUUID().slice(0, 8)}.`;
  const transport = await rabbitMqTransport({ url: URL, exchangePrefix: prefix, shards: SHARDS });
  const connection = await connect(URL);
  const channel = await connection.createConfirmChannel();
  const rows: Row[] = [];
  try {
    // Declares the topology once; both sides then use the same exchanges and queues.
    const setup = await transport.subscribe({ topic: TOPIC, group: GROUP, inFlightMax: 1 }, async () => {});
    await setup.close();
    const queues = transport.topology().queues;
    const exchange = `${prefix}${TOPIC}`;
    const purge = async () => {
      for (const queue of queues) await channel.purgeQueue(queue);
    };
    for (const payloadBytes of PAYLOAD_BYTES) {
      const body = Buffer.alloc(payloadBytes, 7);
      const message = (index: number): TransportMessage => ({
        key: `k-${index}`,
        headers: { 'x-bench': 'yes' },
        body,
      });

      const fill = async () => {
        for (let start = 0; start < consumeCount; start += FILL_BATCH) {
          const batch = Array.from({ length: Math.min(FILL_BATCH, consumeCount - start) }, (_, offset) =>
            rawPublish(channel, exchange, `k-${start + offset}`, body),
          );
          await Promise.all(batch);
        }
      };
      const measure = {
        rawPublish: async () => {
          const rate = await publishRate(publishMs, (index) =>
            rawPublish(channel, exchange, `k-${index}`, body),
          );
          await purge();
          return rate;
        },
        heraldPublish: async () => {
          const rate = await publishRate(publishMs, (index) => transport.publish(TOPIC, [message(index)]));
          await purge();
          return rate;
        },
        rawConsume: async () => {
          await fill();
          return rawConsume(connection, queues, consumeCount);
        },
        heraldConsume: async () => {
          await fill();
          return heraldConsume(transport, consumeCount);
        },
      };
      // The broker's speed drifts (quorum-queue log segments, two CPUs shared with this process):
      // alternate which side goes first and report each side's median.
      const rates: Record<keyof typeof measure, number[]> = {
        rawPublish: [],
        heraldPublish: [],
        rawConsume: [],
        heraldConsume: [],
      };
      for (let round = 0; round < rounds; round++) {
        const order: (keyof typeof measure)[] =
          round % 2 === 0
            ? ['rawPublish', 'heraldPublish', 'rawConsume', 'heraldConsume']
            : ['heraldPublish', 'rawPublish', 'heraldConsume', 'rawConsume'];
        for (const name of order) {
          progress(`${payloadBytes} B, round ${round + 1}/${rounds}: ${name}`);
          rates[name].push(await measure[name]());
        }
      }
      rows.push(row('publish', payloadBytes, median(rates.rawPublish), median(rates.heraldPublish)));
      rows.push(row('consume', payloadBytes, median(rates.rawConsume), median(rates.heraldConsume)));
    }
  } finally {
    const { exchanges, queues } = transport.topology();
    await transport.close();
    for (const queue of queues) await channel.deleteQueue(queue);
    for (const exchange of exchanges) await channel.deleteExchange(exchange);
    await connection.close();
  }
  report(rows, json);
}

/** Drains `count` messages through a Herald subscription; messages per second. */
async function heraldConsume(
  transport: Awaited<ReturnType<typeof rabbitMqTransport>>,
  count: number,
): Promise<number> {
  let consumed = 0;
  const drained = drainedTo(count, () => consumed);
  let started = 0;
  const subscription = await transport.subscribe(
    { topic: TOPIC, group: GROUP, inFlightMax: PREFETCH },
    async (received) => {
      if (started === 0) started = performance.now();
      await received.ack();
      consumed += 1;
      drained.check();
    },
  );
  await drained.done;
  const rate = count / ((performance.now() - started) / 1000);
  await subscription.close();
  return rate;
}

async function rawConsume(
  connection: Awaited<ReturnType<typeof connect>>,
  queues: readonly string[],
  count: number,
): Promise<number> {
  const channel = await connection.createChannel();
  await channel.prefetch(PREFETCH, false);
  let consumed = 0;
  const drained = drainedTo(count, () => consumed);
  let started = 0;
  for (const queue of queues.filter((name) => !name.includes(':retry-'))) {
    await channel.consume(queue, (message) => {
      if (message === null) return;
      if (started === 0) started = performance.now();
      channel.ack(message);
      consumed += 1;
      drained.check();
    });
  }
  await drained.done;
  const rate = count / ((performance.now() - started) / 1000);
  await channel.close();
  return rate;
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

function report(rows: readonly Row[], json: boolean): void {
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ suite: 'rabbitmq', ratioTarget: RATIO_TARGET, rows }, null, 2)}\n`,
    );
    return;
  }
  const lines = [
    `| operation | payload | raw amqplib msg/s | Herald msg/s | Herald / raw | overhead (target ≤ ${Math.round((1 - RATIO_TARGET) * 100)}%) |`,
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (entry) =>
        `| ${entry.operation} | ${entry.payloadBytes} B | ${entry.rawPerSecond} | ${entry.heraldPerSecond} | ` +
        `${entry.ratio.toFixed(2)} | ${entry.overheadPercent.toFixed(1)}% |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
