/**
 * `npm run bench -- redis [--quick] [--json]`: Herald-on-Redis-Streams against the raw client
 * (ioredis) in the same run, on the local server (`redis://127.0.0.1:6379`, or `HERALD_REDIS_URL`),
 * with 100-byte and 1 KiB payloads; the runner is `bench/_transport-overhead.ts`.
 *
 * Both sides do the same server work, so the ratio measures Herald's client-side cost: the raw
 * client appends the same entries (fields `h`, `b`, `k`, `MAXLEN ~`, the same partition stream by
 * murmur2 of the key) and consumes them with `XREADGROUP` and one `XACK` per stream and read (the
 * transport sends one `XACK` per stream for the acks of one event-loop turn). The raw client is a
 * default ioredis connection (no auto-pipelining; the transport's command connection has it).
 *
 * - Publish: 64 concurrent publishers, one message per call, each awaiting its reply, for a fixed
 *   time; the streams are deleted after each measurement.
 * - Consume (end to end from the stream): the partition streams are filled, then drained by one
 *   new group (which starts at the beginning) with 256 in flight, acking each message; timed from
 *   the first delivery to the last ack.
 *
 * Every key is deleted at the end. The shared server of `npm run setup` runs without AOF: this
 * measures client cost, not fsync.
 */
import { randomUUID } from 'node:crypto';
import type { TransportMessage } from '@herald/bus';
import { partitionOfKey, redisTransport } from '@herald/transport-redis';
import { Redis } from 'ioredis';
import {
  CONSUME_TIMEOUT_MS,
  heraldDrainRate,
  type OpenedSuite,
  runTransportOverhead,
} from './_transport-overhead.ts';

const URL = process.env.HERALD_REDIS_URL ?? `redis://127.0.0.1:${process.env.HERALD_REDIS_PORT ?? 6379}`;
const IN_FLIGHT = 256;
const PARTITIONS = 4;
const TOPIC = 'bench';
const HEADERS = { 'x-bench': 'yes' };

/** Runs the suite. */
export function run(args: string[]): Promise<void> {
  return runTransportOverhead(
    {
      name: 'redis',
      rawClient: 'ioredis',
      open,
    },
    args,
  );
}

async function open(): Promise<OpenedSuite> {
  const prefix = `herald-bench:${randomUUID().slice(0, 8)}:`;
  const transport = await redisTransport({ url: URL, keyPrefix: prefix, partitions: PARTITIONS });
  const raw = new Redis(URL, { lazyConnect: true });
  raw.on('error', () => {});
  await raw.connect();
  const rawReader = raw.duplicate();
  rawReader.on('error', () => {});
  const streams = transport.streams(TOPIC);
  const reset = () => raw.del(...streams);
  return {
    sides(payloadBytes) {
      const body = Buffer.alloc(payloadBytes, 7);
      const headersJson = JSON.stringify(HEADERS);
      const message = (index: number): TransportMessage => ({ key: `k-${index}`, headers: HEADERS, body });
      return {
        rawPublish: (index) => {
          const key = `k-${index}`;
          const stream = streams[partitionOfKey(key, PARTITIONS)]!;
          return raw.call(
            'XADD',
            stream,
            'MAXLEN',
            '~',
            1_000_000,
            '*',
            'h',
            headersJson,
            'b',
            body,
            'k',
            key,
          );
        },
        heraldPublish: (index) => transport.publish(TOPIC, [message(index)]),
        afterPublish: reset,
        beforeFill: reset,
        rawConsume: (count) => rawConsume(raw, rawReader, streams, count),
        heraldConsume: (count) =>
          heraldDrainRate(
            transport,
            { topic: TOPIC, group: `herald-${randomUUID().slice(0, 8)}`, inFlightMax: IN_FLIGHT },
            count,
          ),
      };
    },
    async close() {
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
    },
  };
}

type StreamReply = [Buffer, [Buffer, Buffer[]][]][] | null;

/** Drains `count` entries with plain XREADGROUP + one XACK per stream and read, in a new group. */
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
      const ids: Buffer[] = [];
      for (const [id, fields] of entries) {
        // Read the fields as the transport does, so both sides touch the same bytes.
        const headers = JSON.parse(fields[1]!.toString()) as Record<string, string>;
        if (headers['x-bench'] !== 'yes') throw new Error('unexpected entry');
        ids.push(id);
      }
      // One XACK per stream and read, as the transport acks what was handled in one turn.
      if (ids.length > 0) acks.push(raw.call('XACK', stream, group, ...ids));
      consumed += ids.length;
    }
    await Promise.all(acks);
  }
  if (consumed < count) throw new Error(`consumed ${consumed} of ${count} within ${CONSUME_TIMEOUT_MS} ms`);
  return count / ((performance.now() - started) / 1000);
}
