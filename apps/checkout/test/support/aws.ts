/**
 * The checkout's distributed test on AWS SNS + SQS (the moto emulator started by `npm run setup`):
 * service settings, a dead-letter counter, and deleting a run's topics and queues afterwards.
 */
import { DeleteTopicCommand, ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteQueueCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsTransport } from '@herald/transport-aws';
import type { Subscription } from 'herald';
import { CONTRACTS } from '../../src/contracts.ts';
import type { ServiceOptions } from './services.ts';

/** The emulator's endpoint (`HERALD_AWS_PORT`, default 4566). */
export const AWS_ENDPOINT =
  process.env.HERALD_AWS_ENDPOINT ?? `http://127.0.0.1:${process.env.HERALD_AWS_PORT ?? 4566}`;
/** The emulator takes any credentials; the services read these through the SDK's default chain. */
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
const REGION = 'us-east-1';

/** How the services run on the emulator, their names under `prefix`. */
export function onAws(prefix: string): ServiceOptions {
  return {
    transport: 'aws',
    env: {
      HERALD_AWS_ENDPOINT: AWS_ENDPOINT,
      HERALD_AWS_REGION: REGION,
      HERALD_AWS_PREFIX: prefix,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    },
  };
}

/**
 * Counts the dead letters of every checkout topic from now on. SQS cannot replay, so
 * `bus.deadLetters` cannot read them afterwards: a group subscribes to each `<topic>.dlq` first.
 */
export async function countDeadLettersFromNow(
  prefix: string,
): Promise<{ count(): number; close(): Promise<void> }> {
  const transport = await awsTransport({
    endpoint: AWS_ENDPOINT,
    region: REGION,
    credentials: CREDENTIALS,
    namePrefix: prefix,
  });
  let total = 0;
  const subscriptions: Subscription[] = [];
  for (const topic of new Set(CONTRACTS.map((contract) => contract.topic))) {
    subscriptions.push(
      await transport.subscribe(
        { topic: `${topic}.dlq`, group: 'dead-letter-count', inFlightMax: 16 },
        async (message) => {
          total += 1;
          await message.ack();
        },
      ),
    );
  }
  return { count: () => total, close: () => transport.close() };
}

/** Deletes every SQS queue and SNS topic whose name starts with `prefix` (this run's only). */
export async function deleteWithPrefix(prefix: string): Promise<void> {
  const config = { endpoint: AWS_ENDPOINT, region: REGION, credentials: CREDENTIALS };
  const sqs = new SQSClient(config);
  const sns = new SNSClient(config);
  try {
    const { QueueUrls } = await sqs.send(
      new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 1000 }),
    );
    for (const QueueUrl of QueueUrls ?? []) await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    let NextToken: string | undefined;
    do {
      const page = await sns.send(new ListTopicsCommand({ NextToken }));
      for (const { TopicArn } of page.Topics ?? []) {
        if (TopicArn?.split(':').at(-1)?.startsWith(prefix))
          await sns.send(new DeleteTopicCommand({ TopicArn }));
      }
      NextToken = page.NextToken;
    } while (NextToken);
  } finally {
    sqs.destroy();
    sns.destroy();
  }
}
