/**
 * What the conformance suite does not cover, against the moto emulator: visibility extension,
 * keyless nacks returned to SQS, redelivery after a consumer that never settled, the redrive policy,
 * queue settings and names, option checks, an endpoint where nothing listens, and clean-up.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { ConfigurationError, type ReceivedMessage, TransportError } from '@herald/bus';
import { eventually, quiet } from '@herald/conformance';
import { type AwsTransport, awsTransport } from '@herald/transport-aws';
import { AWS_ENDPOINT, emulatorOptions, requireEmulator } from './support.ts';

await requireEmulator();

const opened: AwsTransport[] = [];
const sqs = new SQSClient({
  endpoint: AWS_ENDPOINT,
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});

after(async () => {
  for (const transport of opened) {
    await transport.close();
    await transport.deleteTopology();
  }
  sqs.destroy();
});

async function open(prefix: string, options: Parameters<typeof awsTransport>[0] = {}): Promise<AwsTransport> {
  const transport = await awsTransport({ ...emulatorOptions(prefix), waitTimeMs: 1_000, ...options });
  opened.push(transport);
  return transport;
}

function prefix(): string {
  return `tt${randomUUID().slice(0, 8)}-`;
}

function text(value: string) {
  return new TextEncoder().encode(value);
}

/** The group queue (not the dead-letter queue) `transport` created. */
function groupQueue(transport: AwsTransport): string {
  return transport.topology().queues.find((url) => !url.endsWith('-dlq.fifo'))!;
}

describe('aws transport on moto', { timeout: 240_000 }, () => {
  test('a message held past the visibility timeout is not redelivered: its visibility is extended', async () => {
    const name = prefix();
    const first = await open(name, { visibilityTimeoutMs: 1_000 });
    const second = await open(name, { visibilityTimeoutMs: 1_000 });
    const seen: string[] = [];
    let release: (() => Promise<void>) | undefined;
    const hold = async (message: ReceivedMessage) => {
      seen.push(new TextDecoder().decode(message.body));
      release ??= () => message.ack();
    };
    await first.subscribe({ topic: 'held', group: 'g', inFlightMax: 1 }, hold);
    await second.subscribe({ topic: 'held', group: 'g', inFlightMax: 1 }, hold);
    await first.publish('held', [{ key: 'k', headers: {}, body: text('only') }]);
    await eventually(
      () => release !== undefined,
      () => 'the message to arrive',
    );
    // Three visibility timeouts: without the extension SQS would hand it to a member again.
    const heldUntil = performance.now() + 3_000;
    await eventually(
      () => performance.now() >= heldUntil || seen.length > 1,
      () => 'three visibility timeouts',
      5_000,
    );
    assert.deepEqual(seen, ['only'], 'delivered again while held');
    await release!();
    await quiet(() => seen.length, 'the group after the ack', 1_500);
    assert.deepEqual(seen, ['only']);
    assert.equal(first.stats().visibilityFailures + second.stats().visibilityFailures, 0);
  });

  test('a keyless message nacked for 1 s goes back to SQS and returns after the delay, attempt 2', async () => {
    const transport = await open(prefix());
    const deliveries: { atMs: number; attempt: number }[] = [];
    await transport.subscribe({ topic: 'later', group: 'g', inFlightMax: 4 }, async (message) => {
      deliveries.push({ atMs: performance.now(), attempt: message.deliveryAttempt });
      if (deliveries.length === 1) await message.nack({ delayMs: 1_000 });
      else await message.ack();
    });
    await transport.publish('later', [{ headers: {}, body: text('keyless') }]);
    await eventually(
      () => deliveries.length === 2,
      () => `two deliveries (have ${deliveries.length})`,
    );
    assert.ok(deliveries[1]!.atMs - deliveries[0]!.atMs >= 995, 'redelivered before the delay');
    // SQS counted the second receive: the message really went back to the queue.
    assert.deepEqual(
      deliveries.map((delivery) => delivery.attempt),
      [1, 2],
    );
  });

  test('a consumer that never settles (a crash): the message returns after the visibility timeout, counted', async () => {
    const transport = await open(prefix(), { visibilityTimeoutMs: 1_000 });
    const setup = await transport.subscribe({ topic: 'crash', group: 'g', inFlightMax: 1 }, async () => {});
    await setup.close();
    await transport.publish('crash', [{ key: 'k', headers: { 'x-n': '1' }, body: text('lost?') }]);
    // A raw receive that never deletes nor extends: what a killed process leaves behind.
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: groupQueue(transport),
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: 5,
      }),
    );
    assert.equal(Messages?.length, 1);
    const received: ReceivedMessage[] = [];
    const startedMs = performance.now();
    await transport.subscribe({ topic: 'crash', group: 'g', inFlightMax: 1 }, async (message) => {
      received.push(message);
      await message.ack();
    });
    await eventually(
      () => received.length === 1,
      () => 'the message after the visibility timeout',
    );
    assert.ok(performance.now() - startedMs >= 500, 'returned before its visibility timeout');
    assert.equal(received[0]!.deliveryAttempt, 2);
    assert.equal(received[0]!.headers['x-n'], '1');
    assert.equal(received[0]!.key, 'k');
  });

  test('after maxReceiveCount receives SQS moves a message to the group dead-letter queue', async () => {
    const transport = await open(prefix(), { maxReceiveCount: 1 });
    await (
      await transport.subscribe({ topic: 'poison', group: 'g', inFlightMax: 1 }, async () => {})
    ).close();
    await transport.publish('poison', [{ key: 'p', headers: {}, body: text('poison') }]);
    const queueUrl = groupQueue(transport);
    const first = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 5 }),
    );
    assert.equal(first.Messages?.length, 1);
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: first.Messages![0]!.ReceiptHandle!,
        VisibilityTimeout: 0,
      }),
    );
    const again = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );
    assert.equal(again.Messages?.length ?? 0, 0, 'received again past maxReceiveCount');
    const deadLetterUrl = transport.topology().queues.find((url) => url.endsWith('-dlq.fifo'))!;
    const dead = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: deadLetterUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 5 }),
    );
    assert.equal(dead.Messages?.[0]?.Body, 'poison');
  });

  test('queues are high-throughput FIFO with the visibility timeout, 14 days of retention and the redrive policy; dotted and long names are legal', async () => {
    const name = prefix();
    const transport = await open(name, { visibilityTimeoutMs: 7_000, maxReceiveCount: 9 });
    const topic = `orders.v2.${'x'.repeat(200)}`;
    const group = `billing.${'y'.repeat(150)}`;
    const received: string[] = [];
    await transport.subscribe({ topic, group, inFlightMax: 1 }, async (message) => {
      received.push(new TextDecoder().decode(message.body));
      await message.ack();
    });
    await transport.publish(topic, [{ headers: {}, body: text('long names') }]);
    await eventually(
      () => received.length === 1,
      () => 'the message on long names',
    );
    const queueUrl = groupQueue(transport);
    const queueName = queueUrl.split('/').at(-1)!;
    assert.ok(queueName.length <= 80 && queueName.endsWith('.fifo') && queueName.startsWith(name), queueName);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
    );
    assert.equal(Attributes?.FifoQueue, 'true');
    assert.equal(Attributes?.VisibilityTimeout, '7');
    assert.equal(JSON.parse(Attributes?.RedrivePolicy ?? '{}').maxReceiveCount, 9);
    // The README's Bounds and Options: 14 days' retention, high-throughput FIFO.
    assert.equal(Attributes?.MessageRetentionPeriod, String(14 * 24 * 3600));
    assert.equal(Attributes?.DeduplicationScope, 'messageGroup');
    assert.equal(Attributes?.FifoThroughputLimit, 'perMessageGroupId');
    const topicName = transport.topology().topics[0]!.split(':').at(-1)!;
    assert.match(topicName, /^[A-Za-z0-9_-]+\.fifo$/);
  });

  test('deleteTopology removes the queues it created', async () => {
    const name = prefix();
    const transport = await open(name);
    await (await transport.subscribe({ topic: 'gone', group: 'g', inFlightMax: 1 }, async () => {})).close();
    await transport.close();
    await transport.deleteTopology();
    await transport.deleteTopology(); // Already gone: fine.
    const { QueueUrls } = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: name }));
    assert.deepEqual(QueueUrls ?? [], []);
  });

  test('options out of bounds are ConfigurationErrors naming the option', async () => {
    const cases: [Parameters<typeof awsTransport>[0], RegExp][] = [
      [{ visibilityTimeoutMs: 1_500 }, /visibilityTimeoutMs must be whole seconds/],
      [{ waitTimeMs: 25_000 }, /waitTimeMs must be an integer from 0 to 20000/],
      [{ namePrefix: 'has.dot' }, /namePrefix/],
      [{ maxReceiveCount: 0 }, /maxReceiveCount/],
      [{ messageBytesMax: 300_000 }, /messageBytesMax/],
      [{ credentials: { accessKeyId: '', secretAccessKey: 'x' } }, /default provider chain/],
      [{ endpoint: 'not a url' }, /endpoint/],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(awsTransport(options), (error: unknown) => {
        assert.ok(error instanceof ConfigurationError, String(error));
        assert.match(error.message, message);
        return true;
      });
    }
  });

  test('nothing at the endpoint: publish and subscribe reject with a retriable TransportError saying what to do', async () => {
    const transport = await awsTransport({
      ...emulatorOptions('nobody-'),
      endpoint: 'http://127.0.0.1:1',
      maxAttempts: 1,
    });
    try {
      for (const attempt of [
        () => transport.publish('t', [{ headers: {}, body: text('x') }]),
        () => transport.subscribe({ topic: 't', group: 'g', inFlightMax: 1 }, async () => {}),
      ]) {
        await assert.rejects(attempt(), (error: unknown) => {
          assert.ok(error instanceof TransportError, String(error));
          assert.equal(error.retriable, true);
          assert.match(error.message, /npm run setup/);
          return true;
        });
      }
    } finally {
      await transport.close();
    }
  });
});
