/**
 * `npm run bench -- kafka-transport [--quick] [--json]`: Herald on the Kafka transport against the
 * raw `@platformatic/kafka` client, same `herald serve`, same run, same messages (256-byte body,
 * the six CloudEvents binary-mode headers, 1,000 keys, 4 partitions).
 *
 * - publish: messages/s until every publish is acknowledged (acks=all, idempotent producer);
 *   the raw client sends batches of 100 with 8 sends outstanding, Herald publishes batches of 100
 *   with 8 `publish` calls outstanding (the transport coalesces them into produce requests).
 * - consume: messages/s for a new group to read the whole topic from the start; the raw client
 *   reads a committed-mode stream with autocommit, Herald acks every message through a
 *   subscription with inFlightMax 256 (commits below the lowest unfinished offset).
 *
 * Each row runs `rounds` times, alternating raw and Herald; the median is reported. Target: Herald's
 * overhead ≤ 15 %.
 */
import {
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
} from '@platformatic/kafka';
import type { Transport, TransportMessage } from '../packages/bus/src/index.ts';
import { kafkaTransport } from '../packages/transport-kafka/src/index.ts';
import {
  format,
  machineFacts,
  markdownTable,
  median,
  parseBenchArgs,
  progressLine,
  RESULTS_DIR,
  tempDir,
  writeResult,
} from './_common.ts';
import { startHeraldServe } from './_servers.ts';

const SUITE = 'kafka-transport';
const BODY_BYTES = 256;
const BATCH = 100;
const OUTSTANDING = 8;
const KEYS = 1_000;

function messages(count: number): TransportMessage[] {
  const body = new Uint8Array(BODY_BYTES).fill(120);
  return Array.from({ length: count }, (_, index) => ({
    key: `key-${index % KEYS}`,
    headers: {
      ce_specversion: '1.0',
      ce_id: `0190a6e0-0000-7000-8000-${String(index).padStart(12, '0')}`,
      ce_source: '/bench',
      ce_type: 'BenchEvent',
      ce_time: '2026-01-01T00:00:00.000Z',
      'content-type': 'application/json',
    },
    body,
  }));
}

/** Runs `send(batchIndex)` for every batch with `OUTSTANDING` at a time; returns messages/s. */
async function pump(batches: number, send: (batch: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: OUTSTANDING }, async () => {
      while (next < batches) await send(next++);
    }),
  );
  return (batches * BATCH) / ((performance.now() - started) / 1000);
}

async function rawPublish(bootstrap: string, topic: string, all: TransportMessage[]): Promise<number> {
  const producer = new Producer({
    clientId: 'bench-raw',
    bootstrapBrokers: [bootstrap],
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: true,
  });
  const records = all.map((message) => ({
    topic,
    key: Buffer.from(message.key!),
    value: Buffer.from(message.body),
    headers: new Map(
      Object.entries(message.headers).map(([name, value]) => [Buffer.from(name), Buffer.from(value)]),
    ),
  }));
  try {
    await producer.send({ messages: records.slice(0, 1) }); // Connect and create the topic outside the clock.
    return await pump(all.length / BATCH, (batch) =>
      producer.send({ messages: records.slice(batch * BATCH, (batch + 1) * BATCH) }).then(() => {}),
    );
  } finally {
    await producer.close();
  }
}

async function heraldPublish(transport: Transport, topic: string, all: TransportMessage[]): Promise<number> {
  await transport.publish(topic, all.slice(0, 1));
  return pump(all.length / BATCH, (batch) =>
    transport.publish(topic, all.slice(batch * BATCH, (batch + 1) * BATCH)),
  );
}

async function rawConsume(
  bootstrap: string,
  topic: string,
  group: string,
  expected: number,
): Promise<number> {
  const consumer = new Consumer({ clientId: 'bench-raw', groupId: group, bootstrapBrokers: [bootstrap] });
  try {
    const started = performance.now();
    const stream = await consumer.consume({
      topics: [topic],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: 500,
      maxWaitTime: 500,
    });
    let count = 0;
    for await (const _message of stream) {
      count += 1;
      if (count >= expected) break;
    }
    const rate = count / ((performance.now() - started) / 1000);
    await stream.close();
    return rate;
  } finally {
    await consumer.close(true);
  }
}

async function heraldConsume(
  transport: Transport,
  topic: string,
  group: string,
  expected: number,
): Promise<number> {
  const done = Promise.withResolvers<void>();
  let count = 0;
  const started = performance.now();
  const subscription = await transport.subscribe({ topic, group, inFlightMax: 256 }, async (message) => {
    await message.ack();
    count += 1;
    if (count === expected) done.resolve();
  });
  await done.promise;
  const rate = count / ((performance.now() - started) / 1000);
  await subscription.close();
  return rate;
}

export async function run(args: string[]): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const count = quick ? 20_000 : 100_000;
  const rounds = quick ? 1 : 3;
  const directory = await tempDir('herald-bench-kafka-transport');
  const serve = await startHeraldServe(directory.path, 4);
  const transport = await kafkaTransport({ brokers: [serve.bootstrap], clientId: 'bench-herald' });
  const all = messages(count);
  const results = {
    rawPublish: [] as number[],
    heraldPublish: [] as number[],
    rawConsume: [] as number[],
    heraldConsume: [] as number[],
  };
  try {
    for (let round = 0; round < rounds; round++) {
      const rawTopic = `bench-raw-${round}`;
      const heraldTopic = `bench-herald-${round}`;
      progressLine(SUITE, `round ${round + 1}/${rounds}: publish ${format(count)} raw`);
      results.rawPublish.push(await rawPublish(serve.bootstrap, rawTopic, all));
      progressLine(SUITE, `round ${round + 1}/${rounds}: publish ${format(count)} herald`);
      results.heraldPublish.push(await heraldPublish(transport, heraldTopic, all));
      // Both topics hold count + 1 messages; both readers read the same topic shape.
      progressLine(SUITE, `round ${round + 1}/${rounds}: consume raw`);
      results.rawConsume.push(await rawConsume(serve.bootstrap, rawTopic, `raw-${round}`, count + 1));
      progressLine(SUITE, `round ${round + 1}/${rounds}: consume herald`);
      results.heraldConsume.push(await heraldConsume(transport, heraldTopic, `herald-${round}`, count + 1));
    }
  } finally {
    await transport.close();
    await serve.stop();
    await directory.remove();
  }
  const row = (what: string, raw: number[], herald: number[]) => {
    const rawRate = median(raw);
    const heraldRate = median(herald);
    return { what, raw: rawRate, herald: heraldRate, overhead: (rawRate - heraldRate) / rawRate };
  };
  const rows = [
    row('publish (acks=all)', results.rawPublish, results.heraldPublish),
    row('consume (new group, commit)', results.rawConsume, results.heraldConsume),
  ];
  const table = markdownTable(
    ['', 'raw @platformatic/kafka msg/s', 'Herald kafka transport msg/s', 'Herald overhead'],
    rows.map((entry) => [
      entry.what,
      format(entry.raw),
      format(entry.herald),
      `${(entry.overhead * 100).toFixed(1)} %`,
    ]),
    { align: ['left', 'right', 'right', 'right'] },
  );
  const facts = machineFacts();
  process.stdout.write(
    `\n## Kafka transport vs raw client on herald serve (${format(count)} messages of ${BODY_BYTES} B, ` +
      `6 ce_ headers, ${KEYS} keys, 4 partitions; median of ${rounds})\n\n${table}\n\n` +
      `Target: overhead ≤ 15 %. Machine: ${JSON.stringify(facts)}\n`,
  );
  if (json) {
    const file = writeResult(
      RESULTS_DIR,
      'kafka-transport.json',
      `${JSON.stringify({ count, rounds, rows, results, facts }, null, 2)}\n`,
    );
    process.stdout.write(`wrote ${file}\n`);
  }
}
