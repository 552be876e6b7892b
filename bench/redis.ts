/**
 * `npm run bench -- redis [--quick] [--json]`: Herald-on-Redis-Streams against the raw client
 * (ioredis) in the same run, on the local server (`redis://127.0.0.1:6379`, or `HERALD_REDIS_URL`),
 * with 100-byte and 1 KiB payloads.
 *
 * Both sides do the same server work, so the ratio measures Herald's client-side cost: the raw
 * client appends the same entries (fields `h`, `b`, `k`, `MAXLEN ~`, the same partition stream by
 * murmur2 of the key) and consumes them with `XREADGROUP` and one `XACK` per entry, as the
 * transport does.
 *
 * Full runs alternate the order of the two sides over 3 rounds and report each side's median.
 *
 * - Publish: 64 concurrent publishers, one message per call, each awaiting its reply, for a fixed
 *   time.
 * - Consume (end to end from the stream): the partition streams are filled, then drained by one
 *   new group (which starts at the beginning) with 256 in flight, acking each message; timed from
 *   the first delivery to the last ack.
 *
 * Markdown table on stdout (or JSON with `--json`), progress on stderr. Every key is deleted at the
 * end. The shared server of `npm run setup` runs without AOF: this measures client cost, not fsync.
 */
import { randomUUID } from 'node:crypto';
import type { TransportMessage } from '@herald/bus';
import { partitionOfKey, redisTransport } from '@herald/transport-redis';
import { Redis } from 'ioredis';
import { median, parseBenchArgs, progressLine } from './_common.ts';

const URL = process.env.HERALD_REDIS_URL ?? `redis://127.0.0.1:${process.env.HERALD_REDIS_PORT ?? 6379}`;
const PAYLOAD_BYTES = [100, 1024] as const;
const PUBLISHERS = 64;
const IN_FLIGHT = 256;
const PARTITIONS = 4;
const TOPIC = 'bench';
/** Most time a consume measurement may take before the benchmark fails. */
const CONSUME_TIMEOUT_MS = 120_000;
/** Entries appended per pipeline while filling the streams. */
const FILL_BATCH = 500;
/** The target: Herald's rate at least this share of the raw client's. */
const RATIO_TARGET = 0.85;
const HEADERS = { 'x-bench': 'yes' };

interface Row {
  readonly operation: 'publish' | 'consume';
  readonly payloadBytes: number;
  readonly rawPerSecond: number;
  readonly heraldPerSecond: number;
  readonly ratio: number;
  readonly overheadPercent: number;
}

function progress(text: string): void {
  progressLine('redis', text);
}

/** Runs {@link PUBLISHERS} loops of `publishOnce` for `durationMs`; returns messages per second. */
async function publishRate(
  durationMs: number,
  publishOnce: (index: number) => Promise<unknown>,
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

/** Resolves once `count()` reaches `target`; fails after {@link CONSUME_TIMEOUT_MS}. */
function drainedTo(target: number, count: () => number): { check(): void; done: Promise<void> } {
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

export async function run(args: string[]): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const publishMs = quick ? 1_500 : 5_000;
  const consumeCount = quick ? 5_000 : 50_000;
  const rounds = quick ? 1 : 3;
  const prefix = `herald-bench:${randomUUID().slice(0, 8)}:`;
  const transport = await redisTransport({ url: URL, keyPrefix: prefix, partitions: PARTITIONS });
  const raw = new Redis(URL, { lazyConnect: true });
  raw.on('error', () => {});
  await raw.connect();
  const rawReader = raw.duplicate();
  rawReader.on('error', () => {});
  const streams = transport.streams(TOPIC);
  const rows: Row[] = [];
  try {
    for (const payloadBytes of PAYLOAD_BYTES) {
      const body = Buffer.alloc(payloadBytes, 7);
      const headersJson = JSON.stringify(HEADERS);
      const rawAdd = (index: number) => {
        const key = `k-${index}`;
        const stream = streams[partitionOfKey(key, PARTITIONS)]!;
        return raw.call('XADD', stream, 'MAXLEN', '~', 1_000_000, '*', 'h', headersJson, 'b', body, 'k', key);
      };
      const message = (index: number): TransportMessage => ({ key: `k-${index}`, headers: HEADERS, body });
      const reset = () => raw.del(...streams);
      const fill = async () => {
        await reset();
        for (let start = 0; start < consumeCount; start += FILL_BATCH) {
          const count = Math.min(FILL_BATCH, consumeCount - start);
          await Promise.all(Array.from({ length: count }, (_, offset) => rawAdd(start + offset)));
        }
      };
      const measure = {
        rawPublish: async () => {
          const rate = await publishRate(publishMs, rawAdd);
          await reset();
          return rate;
        },
        heraldPublish: async () => {
          const rate = await publishRate(publishMs, (index) => transport.publish(TOPIC, [message(index)]));
          await reset();
          return rate;
        },
        rawConsume: async () => {
          await fill();
          return rawConsume(raw, rawReader, streams, consumeCount);
        },
        heraldConsume: async () => {
          await fill();
          return heraldConsume(transport, consumeCount);
        },
      };
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
    await transport.close();
    let cursor = '0';
    // SCAN visits every key once per cycle; the cursor returns to 0 when done.
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await raw.del(...keys);
    } while (cursor !== '0');
    raw.disconnect();
    rawReader.disconnect();
  }
  report(rows, json);
}

/** Drains `count` entries through a Herald subscription of a new group; messages per second. */
async function heraldConsume(
  transport: Awaited<ReturnType<typeof redisTransport>>,
  count: number,
): Promise<number> {
  let consumed = 0;
  const drained = drainedTo(count, () => consumed);
  let started = 0;
  const subscription = await transport.subscribe(
    { topic: TOPIC, group: `herald-${randomUUID().slice(0, 8)}`, inFlightMax: IN_FLIGHT },
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

type StreamReply = [Buffer, [Buffer, Buffer[]][]][] | null;

/** Drains `count` entries with plain XREADGROUP + one XACK per entry, in a new group. */
async function rawConsume(
  raw: Redis,
  reader: Redis,
  streams: readonly string[],
  count: number,
): Promise<number> {
  const group = `raw-${randomUUID().slice(0, 8)}`;
  for (const stream of streams) await raw.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM');
  let consumed = 0;
  let started = 0;
  const deadlineMs = performance.now() + CONSUME_TIMEOUT_MS;
  // Bounded by the count and the deadline.
  while (consumed < count && performance.now() < deadlineMs) {
    const reply = (await reader.callBuffer(
      'XREADGROUP',
      'GROUP',
      group,
      'raw',
      'COUNT',
      Math.ceil(IN_FLIGHT / streams.length),
      'BLOCK',
      1000,
      'STREAMS',
      ...streams,
      ...streams.map(() => '>'),
    )) as StreamReply;
    if (reply === null) continue;
    if (started === 0) started = performance.now();
    const acks: Promise<unknown>[] = [];
    for (const [stream, entries] of reply) {
      for (const [id, fields] of entries) {
        // Read the fields as the transport does, so both sides touch the same bytes.
        const headers = JSON.parse(fields[1]!.toString()) as Record<string, string>;
        if (headers['x-bench'] !== 'yes') throw new Error('unexpected entry');
        acks.push(raw.call('XACK', stream, group, id));
      }
    }
    await Promise.all(acks);
    consumed += acks.length;
  }
  if (consumed < count) throw new Error(`consumed ${consumed} of ${count} within ${CONSUME_TIMEOUT_MS} ms`);
  return count / ((performance.now() - started) / 1000);
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
    process.stdout.write(`${JSON.stringify({ suite: 'redis', ratioTarget: RATIO_TARGET, rows }, null, 2)}\n`);
    return;
  }
  const lines = [
    `| operation | payload | raw ioredis msg/s | Herald msg/s | Herald / raw | overhead (target ≤ ${Math.round((1 - RATIO_TARGET) * 100)}%) |`,
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (entry) =>
        `| ${entry.operation} | ${entry.payloadBytes} B | ${entry.rawPerSecond} | ${entry.heraldPerSecond} | ` +
        `${entry.ratio.toFixed(2)} | ${entry.overheadPercent.toFixed(1)}% |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
