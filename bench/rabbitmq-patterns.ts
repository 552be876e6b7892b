/**
 * `npm run bench -- rabbitmq-patterns [--rounds N] [--round-ms MS]`: what the RabbitMQ transport's
 * `topicPatterns: true` costs a publisher, on the local broker (`HERALD_RABBITMQ_URL`, default
 * `amqp://guest:guest@127.0.0.1:5672`). 64 concurrent publishers of 100-byte keyed messages, each
 * awaiting its confirm, into a topic with one group (4 quorum shard queues), for `--round-ms` (2 s)
 * per side; sides alternate within each of `--rounds` (6) rounds, so machine load hits both alike,
 * and the queues are purged between measurements. Two comparisons:
 *
 * - transport: `topicPatterns` off vs on (the BCC key `@t.<topic>` and the hop to the pattern
 *   exchange), as the ratio on/off per round;
 * - raw amqplib, to attribute the cost: plain publish, with the BCC key only, with the key and the
 *   exchange-to-exchange binding to a pattern exchange.
 *
 * With `HERALD_BENCH_BEAM_PID` set to the broker's `beam.smp` process id, each measurement also
 * reports the broker's CPU time per message (from `/proc/<pid>/stat`; other clients of the broker
 * count too). Everything declared is deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { type RabbitMqTransport, rabbitMqTransport } from '@herald/transport-rabbitmq';
import { type ConfirmChannel, connect } from 'amqplib';
import { median, processCpuSeconds } from './_common.ts';

const URL =
  process.env.HERALD_RABBITMQ_URL ??
  `amqp://guest:guest@127.0.0.1:${process.env.HERALD_RABBITMQ_PORT ?? 5672}`;
const PUBLISHERS = 64;
const TOPIC = 'bench.patterns';
const BODY = Buffer.alloc(100, 7);

/** One measurement: messages per second and, if known, broker CPU microseconds per message. */
interface Sample {
  readonly ratePerSecond: number;
  readonly brokerCpuUsPerMessage: number | undefined;
}

/** Runs the suite. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { rounds: { type: 'string', default: '6' }, 'round-ms': { type: 'string', default: '2000' } },
  });
  const rounds = Number(values.rounds);
  const roundMs = Number(values['round-ms']);
  const beamPid = process.env.HERALD_BENCH_BEAM_PID;
  const brokerCpuSeconds = () => processCpuSeconds(beamPid === undefined ? undefined : Number(beamPid));
  const measure = async (publish: (index: number) => Promise<void>, purge: () => Promise<void>) => {
    const cpuBefore = brokerCpuSeconds();
    const count = await publishFor(roundMs, publish);
    const cpuAfter = brokerCpuSeconds();
    await purge();
    const cpuUs =
      cpuBefore === undefined || cpuAfter === undefined ? undefined : ((cpuAfter - cpuBefore) * 1e6) / count;
    return { ratePerSecond: (count * 1000) / roundMs, brokerCpuUsPerMessage: cpuUs } satisfies Sample;
  };

  const off = await openTransport(false);
  const on = await openTransport(true);
  const raw = await openRaw();
  const samples: Record<string, Sample[]> = {};
  const record = (name: string, sample: Sample) => {
    const list = samples[name] ?? [];
    list.push(sample);
    samples[name] = list;
  };
  try {
    for (let round = 0; round < rounds; round++) {
      const sides: [string, () => Promise<Sample>][] = [
        ['transport, topicPatterns off', () => measure(off.publish, off.purge)],
        ['transport, topicPatterns on', () => measure(on.publish, on.purge)],
        ['raw, plain', () => measure((i) => raw.publish('plain', i), raw.purge)],
        ['raw, BCC key', () => measure((i) => raw.publish('key', i), raw.purge)],
        ['raw, BCC key + hop', () => measure((i) => raw.publish('hop', i), raw.purge)],
      ];
      if (round % 2 === 1) sides.reverse();
      for (const [name, side] of sides) record(name, await side());
      const offRate = samples['transport, topicPatterns off']!.at(-1)!.ratePerSecond;
      const onRate = samples['transport, topicPatterns on']!.at(-1)!.ratePerSecond;
      console.log(
        `round ${round + 1}: transport off ${offRate.toFixed(0)} msg/s, on ${onRate.toFixed(0)} msg/s, on/off ${(onRate / offRate).toFixed(3)}`,
      );
    }
  } finally {
    await off.close();
    await on.close();
    await raw.close();
  }
  const ratios = samples['transport, topicPatterns on']!.map(
    (sample, index) => sample.ratePerSecond / samples['transport, topicPatterns off']![index]!.ratePerSecond,
  );
  console.log(`\nmedians of ${rounds} rounds of ${roundMs} ms (${PUBLISHERS} publishers, 100 B, confirms):`);
  for (const [name, list] of Object.entries(samples)) {
    const cpu = list.map((sample) => sample.brokerCpuUsPerMessage).filter((value) => value !== undefined);
    const cpuText = cpu.length > 0 ? `, broker ${median(cpu).toFixed(1)} µs CPU/msg` : '';
    console.log(
      `  ${name.padEnd(30)} ${median(list.map((sample) => sample.ratePerSecond)).toFixed(0)} msg/s${cpuText}`,
    );
  }
  console.log(`  transport on/off ratio (median per round): ${median(ratios).toFixed(3)}`);
}

/** A transport with a topic group declared, publishing keyed messages to it. */
async function openTransport(topicPatterns: boolean) {
  const transport: RabbitMqTransport = await rabbitMqTransport({
    url: URL,
    exchangePrefix: `herald-bench.${randomUUID().slice(0, 8)}.`,
    topicPatterns,
  });
  const setup = await transport.subscribe({ topic: TOPIC, group: 'bench', inFlightMax: 1 }, async () => {});
  await setup.close();
  const purger = await connect(URL);
  const channel = await purger.createChannel();
  return {
    publish: (index: number) =>
      transport.publish(TOPIC, [{ key: `k-${index}`, headers: { 'x-bench': 'yes' }, body: BODY }]),
    purge: async () => {
      for (const queue of transport.topology().queues) await channel.purgeQueue(queue);
    },
    close: async () => {
      await transport.close();
      await transport.deleteTopology();
      await purger.close();
    },
  };
}

/** Three raw topic exchanges, each bound to its own quorum queue: plain, BCC key, key + hop. */
async function openRaw() {
  const connection = await connect(URL);
  const channel: ConfirmChannel = await connection.createConfirmChannel();
  const prefix = `herald-bench.${randomUUID().slice(0, 8)}.raw.`;
  const variants = ['plain', 'key', 'hop'] as const;
  for (const variant of variants) {
    await channel.assertExchange(`${prefix}${variant}`, 'topic', { durable: true });
    await channel.assertQueue(`${prefix}${variant}`, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum' },
    });
    await channel.bindQueue(`${prefix}${variant}`, `${prefix}${variant}`, '#');
  }
  await channel.assertExchange(`${prefix}:patterns`, 'topic', { durable: true });
  await channel.bindExchange(`${prefix}:patterns`, `${prefix}hop`, `@t.${TOPIC}`);
  return {
    publish: (variant: (typeof variants)[number], index: number) =>
      new Promise<void>((resolve, reject) => {
        channel.publish(
          `${prefix}${variant}`,
          'herald.untyped',
          BODY,
          {
            headers: { 'x-bench': 'yes', 'herald-key': `k-${index}`, 'herald-shard': '0' },
            persistent: true,
            mandatory: true,
            ...(variant === 'plain' ? {} : { BCC: [`@t.${TOPIC}`] }),
          },
          (error) => (error ? reject(error) : resolve()),
        );
      }),
    purge: async () => {
      for (const variant of variants) await channel.purgeQueue(`${prefix}${variant}`);
    },
    close: async () => {
      for (const variant of variants) {
        await channel.deleteQueue(`${prefix}${variant}`);
        await channel.deleteExchange(`${prefix}${variant}`);
      }
      await channel.deleteExchange(`${prefix}:patterns`);
      await connection.close();
    },
  };
}

/** Publishes with {@link PUBLISHERS} concurrent callers for `durationMs`; how many were confirmed. */
async function publishFor(durationMs: number, publish: (index: number) => Promise<void>): Promise<number> {
  const endMs = performance.now() + durationMs;
  let sent = 0;
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async () => {
      while (performance.now() < endMs) await publish(sent++);
    }),
  );
  return sent;
}
