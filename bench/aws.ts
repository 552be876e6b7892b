/**
 * `npm run bench -- aws [--quick] [--json]`: Herald-on-AWS against the raw AWS SDK v3 in the same
 * run, **on the moto emulator** (`moto_server`, started by `npm run setup` on `HERALD_AWS_PORT`,
 * default 4566, or `HERALD_AWS_ENDPOINT`). No AWS account is reachable here, so the figures measure
 * Herald's client-side cost against an emulator written in Python, not AWS's latency or throughput.
 * The runner is `bench/_transport-overhead.ts`.
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
 * Topic and queues are deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { TransportMessage } from '@herald/bus';
import { awsTransport } from '@herald/transport-aws';
import {
  CONSUME_TIMEOUT_MS,
  heraldDrainRate,
  type OpenedSuite,
  runTransportOverhead,
} from './_transport-overhead.ts';

const ENDPOINT = process.env.HERALD_AWS_ENDPOINT ?? `http://127.0.0.1:${process.env.HERALD_AWS_PORT ?? 4566}`;
const CONFIG = {
  endpoint: ENDPOINT,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};
const PUBLISHERS = 16;
const IN_FLIGHT = 10;
const TOPIC = 'bench';
/** Publish measurements go to a topic of their own (also with one queue subscribed), so nothing needs purging. */
const PUBLISH_TOPIC = 'bench-publish';
const GROUP = 'bench';

/** Runs the suite. */
export function run(args: string[]): Promise<void> {
  return runTransportOverhead(
    {
      name: 'aws',
      rawClient: 'AWS SDK',
      operationHeading: 'operation (moto emulator, not AWS)',
      jsonFields: { emulator: 'moto' },
      publishers: PUBLISHERS,
      fillBatch: PUBLISHERS,
      quick: { publishMs: 2_000, consumeCount: 300 },
      full: { publishMs: 5_000, consumeCount: 2_000 },
      open,
    },
    args,
  );
}

async function open(): Promise<OpenedSuite> {
  const transport = await awsTransport({
    ...CONFIG,
    namePrefix: `bench-${randomUUID().slice(0, 8)}-`,
    waitTimeMs: 1_000,
  });
  const sns = new SNSClient(CONFIG);
  const sqs = new SQSClient(CONFIG);
  let queueUrl = '';
  let topicArn = '';
  let publishTopicArn = '';
  return {
    async prepare() {
      // Creates the topics, queues and subscriptions once; both sides then use them.
      await (
        await transport.subscribe({ topic: TOPIC, group: GROUP, inFlightMax: 1 }, async () => {})
      ).close();
      queueUrl = transport.topology().queues.find((url) => !url.endsWith('-dlq.fifo'))!;
      topicArn = transport.topology().topics[0]!;
      await (
        await transport.subscribe({ topic: PUBLISH_TOPIC, group: GROUP, inFlightMax: 1 }, async () => {})
      ).close();
      publishTopicArn = transport.topology().topics.find((arn) => arn !== topicArn)!;
    },
    sides(payloadBytes) {
      // Text, so both sides send it as is (a binary body would be base64 on the Herald side only).
      const text = 'x'.repeat(payloadBytes);
      const body = Buffer.from(text);
      const message = (index: number): TransportMessage => ({
        key: `k-${index}`,
        headers: { 'x-bench': 'yes' },
        body,
      });
      const rawPublish = (index: number, arn: string) =>
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
      return {
        rawPublish: (index) => rawPublish(index, publishTopicArn),
        heraldPublish: (index) => transport.publish(PUBLISH_TOPIC, [message(index)]),
        fillOne: (index) => rawPublish(index, topicArn),
        rawConsume: (count) => rawConsume(sqs, queueUrl, count),
        heraldConsume: (count) =>
          heraldDrainRate(transport, { topic: TOPIC, group: GROUP, inFlightMax: IN_FLIGHT }, count),
      };
    },
    async close() {
      await transport.close();
      await transport.deleteTopology();
      sns.destroy();
      sqs.destroy();
    },
  };
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
