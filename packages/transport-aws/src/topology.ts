/**
 * Creates what the transport needs on AWS, each at most once per transport: a FIFO SNS topic per
 * Herald topic, and per group a FIFO SQS queue (with its dead-letter queue and redrive policy)
 * subscribed to the topic with raw message delivery. Every call is idempotent on AWS, so processes
 * sharing a group create the same things.
 */
import { CreateTopicCommand, type SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { awsError } from './errors.ts';
import { queueNames, topicName } from './names.ts';
import type { ResolvedOptions } from './options.ts';

/** Everything this transport created, e.g. for deleting it after a test. */
export interface CreatedTopology {
  /** SNS topic ARNs. */
  readonly topics: Set<string>;
  /** SQS queue URLs (group queues and their dead-letter queues). */
  readonly queues: Set<string>;
}

/** The clients and options topology calls need. */
export interface TopologyContext {
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  readonly options: ResolvedOptions;
  /** Where the calls go, for error messages. */
  readonly where: string;
  readonly created: CreatedTopology;
}

/** Creates (or finds) the FIFO SNS topic of `topic`; resolves with its ARN. */
export async function createTopic(context: TopologyContext, topic: string): Promise<string> {
  const name = topicName(context.options.namePrefix, topic);
  try {
    const { TopicArn } = await context.sns.send(
      new CreateTopicCommand({
        Name: name,
        // Deduplication by the MessageDeduplicationId we set (from the CloudEvents id), not by the body alone.
        Attributes: { FifoTopic: 'true', ContentBasedDeduplication: 'false' },
      }),
    );
    if (TopicArn === undefined) throw new Error('CreateTopic returned no TopicArn');
    context.created.topics.add(TopicArn);
    return TopicArn;
  } catch (error) {
    throw awsError(error, `create SNS topic "${name}"`, context.where);
  }
}

async function createQueue(
  context: TopologyContext,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  try {
    const { QueueUrl } = await context.sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: { FifoQueue: 'true', ...attributes } }),
    );
    if (QueueUrl === undefined) throw new Error('CreateQueue returned no QueueUrl');
    context.created.queues.add(QueueUrl);
    const { Attributes } = await context.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    const arn = Attributes?.QueueArn;
    if (arn === undefined) throw new Error('GetQueueAttributes returned no QueueArn');
    return { url: QueueUrl, arn };
  } catch (error) {
    throw awsError(error, `create SQS queue "${name}"`, context.where);
  }
}

/**
 * Creates (or finds) the group's FIFO queue and dead-letter queue, lets the topic send to it, and
 * subscribes it to the topic with raw message delivery. Resolves with the queue URL once the
 * subscription exists, so a message published after that reaches the group.
 */
export async function createGroupQueue(
  context: TopologyContext,
  topicArn: string,
  topic: string,
  group: string,
): Promise<string> {
  const { options } = context;
  const names = queueNames(options.namePrefix, topic, group);
  const deadLetter = await createQueue(context, names.deadLetter, {
    // The longest SQS retention (14 days): what lands here needs a person to look at it.
    MessageRetentionPeriod: String(14 * 24 * 3600),
  });
  const queue = await createQueue(context, names.queue, {
    VisibilityTimeout: String(options.visibilityTimeoutMs / 1000),
    MessageRetentionPeriod: String(14 * 24 * 3600),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: deadLetter.arn,
      maxReceiveCount: options.maxReceiveCount,
    }),
    // High-throughput FIFO: order and deduplication per message group (= per key).
    DeduplicationScope: 'messageGroup',
    FifoThroughputLimit: 'perMessageGroupId',
  });
  try {
    // Real SNS may send to the queue only with this policy; the emulator ignores it.
    await context.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: queue.url,
        Attributes: {
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'herald-sns-delivery',
                Effect: 'Allow',
                Principal: { Service: 'sns.amazonaws.com' },
                Action: 'sqs:SendMessage',
                Resource: queue.arn,
                Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
              },
            ],
          }),
        },
      }),
    );
    await context.sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: queue.arn,
        ReturnSubscriptionArn: true,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
  } catch (error) {
    throw awsError(error, `subscribe SQS queue "${names.queue}" to its SNS topic`, context.where);
  }
  return queue.url;
}
