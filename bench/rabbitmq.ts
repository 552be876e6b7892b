/**
 * `npm run bench -- rabbitmq [--quick] [--json]`: Herald-on-RabbitMQ against the raw client
 * (amqplib) in the same run, on the local broker (`amqp://guest:guest@127.0.0.1:5672`, or
 * `HERALD_RABBITMQ_URL`), with 100-byte and 1 KiB payloads; the runner is
 * `bench/_transport-overhead.ts`.
 *
 * Both sides do the same broker work, so the ratio measures Herald's client-side cost: the raw
 * client publishes the same messages (same headers, persistent, mandatory, confirms) into the same
 * topology the transport declared (topic exchange → group headers exchange → 4 quorum shard
 * queues), and consumes the same queues with the same prefetch, acking each message.
 *
 * - Publish: 64 concurrent publishers, one message per call, each awaiting its confirm, for a
 *   fixed time; the queues are purged after each measurement.
 * - Consume: the queues are filled, then drained by one consumer (prefetch 256 per shard) that acks
 *   each message.
 *
 * Every exchange and queue is deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import type { TransportMessage } from '@herald/bus';
import { rabbitMqTransport, shardForKey } from '@herald/transport-rabbitmq';
import { type ChannelModel, type ConfirmChannel, connect } from 'amqplib';
import { drainedTo, heraldDrainRate, type OpenedSuite, runTransportOverhead } from './_transport-overhead.ts';

const URL =
  process.env.HERALD_RABBITMQ_URL ??
  `amqp://guest:guest@127.0.0.1:${process.env.HERALD_RABBITMQ_PORT ?? 5672}`;
const PREFETCH = 256;
const SHARDS = 4;
const TOPIC = 'bench';
const GROUP = 'bench';

/** Runs the suite. */
export function run(args: string[]): Promise<void> {
  return runTransportOverhead(
    {
      name: 'rabbitmq',
      rawClient: 'amqplib',
      open,
    },
    args,
  );
}

async function open(): Promise<OpenedSuite> {
  const prefix = `herald-bench.${randomUUID().slice(0, 8)}.`;
  const transport = await rabbitMqTransport({ url: URL, exchangePrefix: prefix, shards: SHARDS });
  const connection = await connect(URL);
  const channel = await connection.createConfirmChannel();
  const exchange = `${prefix}${TOPIC}`;
  let queues: readonly string[] = [];
  return {
    async prepare() {
      // Declares the topology once; both sides then use the same exchanges and queues.
      const setup = await transport.subscribe({ topic: TOPIC, group: GROUP, inFlightMax: 1 }, async () => {});
      await setup.close();
      queues = transport.topology().queues;
    },
    sides(payloadBytes) {
      const body = Buffer.alloc(payloadBytes, 7);
      const message = (index: number): TransportMessage => ({
        key: `k-${index}`,
        headers: { 'x-bench': 'yes' },
        body,
      });
      return {
        rawPublish: (index) => rawPublish(channel, exchange, `k-${index}`, body),
        heraldPublish: (index) => transport.publish(TOPIC, [message(index)]),
        afterPublish: async () => {
          for (const queue of queues) await channel.purgeQueue(queue);
        },
        rawConsume: (count) => rawConsume(connection, queues, count),
        heraldConsume: (count) =>
          heraldDrainRate(transport, { topic: TOPIC, group: GROUP, inFlightMax: PREFETCH }, count),
      };
    },
    async close() {
      const { exchanges, queues } = transport.topology();
      await transport.close();
      for (const queue of queues) await channel.deleteQueue(queue);
      for (const exchange of exchanges) await channel.deleteExchange(exchange);
      await connection.close();
    },
  };
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

/** Drains `count` messages from the shard queues on a plain channel; messages per second. */
async function rawConsume(
  connection: ChannelModel,
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
