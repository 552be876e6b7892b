/**
 * `awsTransport()`: the Herald Transport on AWS SNS + SQS (FIFO), through the AWS SDK v3. See the
 * package README for the mapping (a FIFO SNS topic per topic, a FIFO SQS queue per group subscribed
 * with raw message delivery), the guarantees and the limits.
 */
import {
  DeleteTopicCommand,
  PublishBatchCommand,
  type PublishBatchCommandOutput,
  SNSClient,
  type SNSClientConfig,
} from '@aws-sdk/client-sns';
import { DeleteQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  assertTopicName,
  type MessageHandler,
  messageSizeBytes,
  PayloadTooLargeError,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  TransportError,
  type TransportFeatures,
  type TransportMessage,
} from '@herald/bus';
import { assertSubscribeOptions, SubscriptionRegistry } from '@herald/bus/internal';
import { type PublishEntry, toPublishEntry } from './attributes.ts';
import { awsError, publishError } from './errors.ts';
import {
  AWS_BATCH_MAX,
  type AwsTransportOptions,
  type ResolvedOptions,
  resolveOptions,
  SNS_MESSAGE_BYTES_MAX,
} from './options.ts';
import { QueueSubscription, type SubscriptionHost } from './subscription.ts';
import { type CreatedTopology, createGroupQueue, createTopic, type TopologyContext } from './topology.ts';

/** Counters of one transport instance. */
export interface AwsTransportStats {
  /** SQS receives that failed and were retried. */
  readonly receiveFailures: number;
  /** Deletes (acks) SQS refused; those messages come back after their visibility timeout. */
  readonly deleteFailures: number;
  /** Visibility changes SQS refused (an extension or a nack's return). */
  readonly visibilityFailures: number;
}

/** The AWS transport: a Herald {@link Transport} plus AWS-specific inspection. */
export interface AwsTransport extends Transport {
  /** Counters since creation. */
  stats(): AwsTransportStats;
  /** The SNS topic ARNs and SQS queue URLs this instance created (or found). */
  topology(): { readonly topics: readonly string[]; readonly queues: readonly string[] };
  /**
   * Deletes every SNS topic and SQS queue this instance created, with the messages they hold
   * (also after `close()`). For tests and throw-away runs: other processes using these names lose
   * them too.
   */
  deleteTopology(): Promise<void>;
}

/**
 * Returns the AWS transport. Nothing is called on AWS until the first publish or subscribe, which
 * creates the topic (and the group's queue) if missing. Throws `ConfigurationError` for bad options.
 *
 * @example
 * const transport = await awsTransport({ region: 'eu-west-1' });
 * const bus = createBus({ transport, source: '/checkout' });
 */
export async function awsTransport(options: AwsTransportOptions = {}): Promise<AwsTransport> {
  return new AwsTransportImpl(resolveOptions(options));
}

class AwsTransportImpl implements AwsTransport, SubscriptionHost {
  readonly name = 'aws';
  readonly features: TransportFeatures;
  readonly options: ResolvedOptions;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  readonly #context: TopologyContext;
  readonly #clientConfig: SNSClientConfig;
  readonly #created: CreatedTopology = { topics: new Set(), queues: new Set() };
  readonly #topics = new Map<string, Promise<string>>();
  readonly #queues = new Map<string, Promise<string>>();
  readonly #registry = new SubscriptionRegistry<QueueSubscription>('aws transport');
  readonly #failures = { receive: 0, delete: 0, visibility: 0 };

  constructor(options: ResolvedOptions) {
    this.options = options;
    const config = {
      region: options.region,
      endpoint: options.endpoint,
      credentials: options.credentials,
      maxAttempts: options.maxAttempts,
      // A receive long-polls for up to waitTimeMs before answering.
      requestHandler: {
        requestTimeout: options.requestTimeoutMs + options.waitTimeMs,
        connectionTimeout: Math.min(options.requestTimeoutMs, 10_000),
      },
    };
    this.#clientConfig = config;
    this.sns = new SNSClient(config);
    this.sqs = new SQSClient(config);
    const where = options.endpoint ?? `AWS region ${options.region}`;
    this.#context = { sns: this.sns, sqs: this.sqs, options, where, created: this.#created };
    this.features = {
      consumerGroups: true,
      persistent: true,
      replaysToNewGroups: false,
      orderedPerKey: true,
      publishDeduplication:
        'SNS FIFO drops an exact copy of a message with a CloudEvents id (same id, key, headers and body) published again within 5 minutes',
      exactlyOnce: false,
      messageBytesMax: options.messageBytesMax,
      scheduling: {
        mode: 'unsupported',
        reason:
          'SQS FIFO queues have no per-message DelaySeconds (only a queue-wide delay) and standard ' +
          'queues stop at 15 minutes; use the embedded broker, Kafka or RabbitMQ',
      },
      topicPatterns: {
        mode: 'unsupported',
        reason:
          'SNS cannot subscribe by topic-name pattern, and SNS keeps no messages: a group queue subscribed to ' +
          'a topic found later would miss what was published to it before (topic names are hashed, too)',
      },
    };
  }

  stats(): AwsTransportStats {
    return {
      receiveFailures: this.#failures.receive,
      deleteFailures: this.#failures.delete,
      visibilityFailures: this.#failures.visibility,
    };
  }

  topology(): { readonly topics: readonly string[]; readonly queues: readonly string[] } {
    return { topics: [...this.#created.topics], queues: [...this.#created.queues] };
  }

  async deleteTopology(): Promise<void> {
    // The clients may be destroyed (after close): fresh ones for the clean-up.
    const sns = new SNSClient(this.#clientConfig);
    const sqs = new SQSClient(this.#clientConfig);
    try {
      for (const QueueUrl of this.#created.queues) {
        await sqs.send(new DeleteQueueCommand({ QueueUrl })).catch(ignoreNotFound);
      }
      for (const TopicArn of this.#created.topics) {
        await sns.send(new DeleteTopicCommand({ TopicArn })).catch(ignoreNotFound);
      }
    } finally {
      sns.destroy();
      sqs.destroy();
    }
  }

  countFailure(what: 'receive' | 'delete' | 'visibility'): void {
    this.#failures[what] += 1;
  }

  #topicArn(topic: string): Promise<string> {
    let arn = this.#topics.get(topic);
    if (arn === undefined) {
      arn = createTopic(this.#context, topic);
      arn.catch(() => this.#topics.delete(topic));
      this.#topics.set(topic, arn);
    }
    return arn;
  }

  queueFor(topic: string, group: string): Promise<string> {
    const id = `${topic}\n${group}`;
    let url = this.#queues.get(id);
    if (url === undefined) {
      url = this.#topicArn(topic).then((arn) => createGroupQueue(this.#context, arn, topic, group));
      url.catch(() => this.#queues.delete(id));
      this.#queues.set(id, url);
    }
    return url;
  }

  async publish(topic: string, messages: readonly TransportMessage[]): Promise<void> {
    this.#registry.assertOpen();
    assertTopicName(topic, 'publish');
    const entries: PublishEntry[] = [];
    for (const message of messages) {
      const size = messageSizeBytes(message);
      if (size > this.features.messageBytesMax) {
        throw new PayloadTooLargeError(topic, size, this.features.messageBytesMax);
      }
      const entry = toPublishEntry(message);
      if (entry.sizeBytes > SNS_MESSAGE_BYTES_MAX) {
        throw new TransportError(
          `aws transport: a message for topic "${topic}" is ${entry.sizeBytes} bytes once encoded for SNS ` +
            `(headers escaped, a binary body base64), over SNS's ${SNS_MESSAGE_BYTES_MAX}; make its headers ` +
            'or body smaller',
        );
      }
      entries.push(entry);
    }
    if (entries.length === 0) return;
    const TopicArn = await this.#topicArn(topic);
    this.#registry.assertOpen();
    // Batches in order, one at a time: SNS FIFO keeps the order of a batch and of batches sent
    // one after the other, so messages of one key keep publish order.
    for (const batch of batches(entries)) {
      let result: PublishBatchCommandOutput;
      try {
        result = await this.sns.send(
          new PublishBatchCommand({
            TopicArn,
            PublishBatchRequestEntries: batch.map((entry, index) => ({
              Id: String(index),
              Message: entry.Message,
              MessageGroupId: entry.MessageGroupId,
              MessageDeduplicationId: entry.MessageDeduplicationId,
              MessageAttributes: entry.MessageAttributes,
            })),
          }),
        );
      } catch (error) {
        this.#registry.assertOpen();
        const typed = awsError(error, `publish to topic "${topic}"`, this.#context.where);
        throw typed instanceof TransportError ? publishError(topic, typed.message, error) : typed;
      }
      const failed = result.Failed?.[0];
      if (failed !== undefined) {
        throw publishError(topic, `${failed.Code ?? 'failed'}: ${failed.Message ?? ''}`);
      }
    }
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    this.#registry.assertOpen();
    assertSubscribeOptions(options);
    const subscription = new QueueSubscription(this, options, handler);
    return this.#registry.start(subscription, () => subscription.start());
  }

  forget(subscription: QueueSubscription): void {
    this.#registry.forget(subscription);
  }

  close(): Promise<void> {
    return this.#registry.close((subscriptions) => this.#close(subscriptions));
  }

  async #close(subscriptions: readonly QueueSubscription[]): Promise<void> {
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
    // Frees the HTTP agents' sockets: nothing is left open after close.
    this.sns.destroy();
    this.sqs.destroy();
  }
}

/** Names that no longer exist are fine to delete (another close, or another process, got there first). */
function ignoreNotFound(error: unknown): void {
  const name = String((error as { name?: unknown })?.name ?? '');
  if (/QueueDoesNotExist|NonExistentQueue|NotFound/.test(name)) return;
  throw error;
}

/** `entries` cut into PublishBatch calls: at most 10 entries and 256 KiB each. */
function* batches(entries: readonly PublishEntry[]): Generator<PublishEntry[]> {
  let batch: PublishEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (
      batch.length === AWS_BATCH_MAX ||
      (batch.length > 0 && bytes + entry.sizeBytes > SNS_MESSAGE_BYTES_MAX)
    ) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += entry.sizeBytes;
  }
  if (batch.length > 0) yield batch;
}
