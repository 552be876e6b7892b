/**
 * `npm run bench -- aws [--quick] [--json]`: Herald-on-AWS against the raw AWS SDK v3 in the same
 * run, **on the moto emulator** (`moto_server`, started by `npm run setup` on `HERALD_AWS_PORT`,
 * default 4566, or `HERALD_AWS_ENDPOINT`). No AWS account is reachable here, so the figures measure
 * Herald's client-side cost against an emulator written in Python, not AWS's latency or throughput.
 *
 * Both sides do the same AWS work on the same FIFO topic and queue (created by the transport):
 *
 * - Publish: 16 concurrent publishers, one message per call (Herald: `transport.publish`, one
 *   `PublishBatch` entry with the same attributes; raw: `Publish` with MessageGroupId,
 *   MessageDeduplicationId and one attribute), for a fixed time.
 * - Consume: the queue is filled through SNS, then drained: Herald through a subscription that acks
 *   each message (`inFlightMax` 10); raw by one loop of `ReceiveMessage` (10, long poll) and
 *   `DeleteMessageBatch`. Timed from the first delivery to the last ack.
 *
 * Markdown table on stdout (or JSON with `--json`), progress on stderr. Topic and queues are
 * deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { TransportMessage } from '@herald/bus';
import { awsTransport } from '@herald/transport-aws';
import { median, parseBenchArgs, progressLine } from './_common.ts';

const ENDPOINT = process.env.HERALD_AWS_ENDPOINT ?? `http://127.0.0.1:${process.env.HERALD_AWS_PORT ?? 4566}`;
const CONFIG = {
  endpoint: ENDPOINT,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};
const PAYLOAD_BYTES = [100, 1024] as const;
const PUBLISHERS = 16;
const IN_FLIGHT = 10;
const TOPIC = 'bench';
/** Publish measurements go to a topic of their own (also with one queue subscribed), so nothing needs purging. */
const PUBLISH_TOPIC = 'bench-publish';
const GROUP = 'bench';
/** Most time a consume measurement may take before the benchmark fails. */
const CONSUME_TIMEOUT_MS = 120_000;
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
  progressLine('aws', text);
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

/** Polls `count()` until it reaches `target` (deadline {@link CONSUME_TIMEOUT_MS}). */
async function until(target: number, count: () => number): Promise<void> {
  const deadline = performance.now() + CONSUME_TIMEOUT_MS;
  while (count() < target) {
    if (performance.now() > deadline)
      throw new Error(`consumed ${count()} of ${target} within ${CONSUME_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function run(args: string[]): Promise<void> {
  const { quick, json } = parseBenchArgs(args);
  const publishMs = quick ? 2_000 : 5_000;
  const consumeCount = quick ? 300 : 2_000;
  const rounds = quick ? 1 : 3;
  const transport = await awsTransport({
    ...CONFIG,
    namePrefix: `bench-${randomUUID().slice(0, 8)}-`,
    waitTimeMs: 1_000,
  });
  const sns = new SNSClient(CONFIG);
  const sqs = new SQSClient(CONFIG);
  const rows: Row[] = [];
  try {
    // Creates the topic, queue and subscription once; both sides then use them.
    await (await transport.subscribe({ topic: TOPIC, group: GROUP, inFlightMax: 1 }, async () => {})).close();
    const queueUrl = transport.topology().queues.find((url) => !url.endsWith('-dlq.fifo'))!;
    const topicArn = transport.topology().topics[0]!;
    await (
      await transport.subscribe({ topic: PUBLISH_TOPIC, group: GROUP, inFlightMax: 1 }, async () => {})
    ).close();
    const publishTopicArn = transport.topology().topics.find((arn) => arn !== topicArn)!;
    for (const payloadBytes of PAYLOAD_BYTES) {
      // Text, so both sides send it as is (a binary body would be base64 on the Herald side only).
      const text = 'x'.repeat(payloadBytes);
      const body = Buffer.from(text);
      const message = (index: number): TransportMessage => ({
        key: `k-${index}`,
        headers: { 'x-bench': 'yes' },
        body,
      });
      const rawPublish = (index: number, arn = topicArn) =>
        sns.send(
          new PublishCommand({
            TopicArn: arn,
            Message: text,
            MessageGroupId: `k-${index}`,
            MessageDeduplicationId: randomUUID(),
            MessageAttributes: {
              herald: {
                DataType: 'String',
                StringValue: JSON.stringify({ h: { 'x-bench': 'yes' }, k: `k-${index}` }),
              },
            },
          }),
        );
      const fill = async () => {
        for (let start = 0; start < consumeCount; start += PUBLISHERS) {
          await Promise.all(
            Array.from({ length: Math.min(PUBLISHERS, consumeCount - start) }, (_, offset) =>
              rawPublish(start + offset),
            ),
          );
        }
      };
      const measure = {
        rawPublish: () => publishRate(publishMs, (index) => rawPublish(index, publishTopicArn)),
        heraldPublish: () =>
          publishRate(publishMs, (index) => transport.publish(PUBLISH_TOPIC, [message(index)])),
        rawConsume: async () => {
          await fill();
          return rawConsume(sqs, queueUrl, consumeCount);
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
    await transport.deleteTopology();
    sns.destroy();
    sqs.destroy();
  }
  report(rows, json);
}

/** Drains `count` messages through a Herald subscription; messages per second. */
async function heraldConsume(
  transport: Awaited<ReturnType<typeof awsTransport>>,
  count: number,
): Promise<number> {
  let consumed = 0;
  let started = 0;
  const subscription = await transport.subscribe(
    { topic: TOPIC, group: GROUP, inFlightMax: IN_FLIGHT },
    async (received) => {
      if (started === 0) started = performance.now();
      await received.ack();
      consumed += 1;
    },
  );
  await until(count, () => consumed);
  const rate = count / ((performance.now() - started) / 1000);
  await subscription.close();
  return rate;
}

/** Drains `count` messages with ReceiveMessage + DeleteMessageBatch; messages per second. */
async function rawConsume(sqs: SQSClient, queueUrl: string, count: number): Promise<number> {
  let consumed = 0;
  let started = 0;
  const deadline = performance.now() + CONSUME_TIMEOUT_MS;
  while (consumed < count) {
    if (performance.now() > deadline)
      throw new Error(`consumed ${consumed} of ${count} within ${CONSUME_TIMEOUT_MS} ms`);
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'SequenceNumber'],
      }),
    );
    if (Messages.length === 0) continue;
    if (started === 0) started = performance.now();
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle!,
        })),
      }),
    );
    consumed += Messages.length;
  }
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
    process.stdout.write(
      `${JSON.stringify({ suite: 'aws', emulator: 'moto', ratioTarget: RATIO_TARGET, rows }, null, 2)}\n`,
    );
    return;
  }
  const lines = [
    `| operation (moto emulator, not AWS) | payload | raw AWS SDK msg/s | Herald msg/s | Herald / raw | overhead (target ≤ ${Math.round((1 - RATIO_TARGET) * 100)}%) |`,
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (entry) =>
        `| ${entry.operation} | ${entry.payloadBytes} B | ${entry.rawPerSecond} | ${entry.heraldPerSecond} | ` +
        `${entry.ratio.toFixed(2)} | ${entry.overheadPercent.toFixed(1)}% |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
