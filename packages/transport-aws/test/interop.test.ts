/**
 * Interop with a client Herald did not write: Python boto3 (installed with moto into the PyPI
 * virtualenv by `npm run setup`), on the moto emulator. A CloudEvent published by boto3 with `ce_*`
 * message attributes reaches a Herald bus as that event; an event published by Herald reaches a
 * boto3 consumer of the group's SQS queue with its CloudEvents attributes and its JSON body as is.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  createBus,
  decodeEnvelope,
  defineEvent,
  type ReceivedMessage,
  type StandardSchemaV1,
  silentLogger,
} from '@herald/bus';
import { eventually } from '@herald/conformance';
import { type AwsTransport, awsTransport } from '@herald/transport-aws';
import { AWS_ENDPOINT, emulatorOptions, requireEmulator } from './support.ts';

await requireEmulator();

const run = promisify(execFile);
const PYTHON = join(
  process.env.HERALD_PYTHON_DIR ?? join(homedir(), '.cache', 'herald', 'python'),
  'bin',
  'python',
);
const SCRIPT = join(import.meta.dirname, 'boto3', 'interop.py');

const opened: AwsTransport[] = [];
after(async () => {
  for (const transport of opened) {
    await transport.close();
    await transport.deleteTopology();
  }
});

async function boto3(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(PYTHON, [SCRIPT, ...args], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe('aws interop with boto3', { timeout: 180_000 }, () => {
  test('a CloudEvent published by boto3 reaches a Herald subscriber as that event', async () => {
    const transport = await awsTransport({
      ...emulatorOptions(`io${randomUUID().slice(0, 8)}-`),
      waitTimeMs: 1_000,
    });
    opened.push(transport);
    const received: ReceivedMessage[] = [];
    await transport.subscribe({ topic: 'orders', group: 'billing', inFlightMax: 1 }, async (message) => {
      received.push(message);
      await message.ack();
    });
    await boto3('publish', AWS_ENDPOINT, transport.topology().topics[0]!);
    await eventually(
      () => received.length === 1,
      () => 'the boto3 event',
    );
    const envelope = decodeEnvelope(received[0]!);
    assert.equal(envelope.id, 'boto3-event-1');
    assert.equal(envelope.type, 'order.created');
    assert.equal(envelope.source, '/python');
    assert.deepEqual(envelope.data, { orderId: 'py-1', total: 7 });
    assert.equal(received[0]!.key, 'py-1', 'ce_partitionkey is the key');
  });

  test('an event published by Herald reaches a boto3 consumer with CloudEvents attributes', async () => {
    const transport = await awsTransport({
      ...emulatorOptions(`io${randomUUID().slice(0, 8)}-`),
      waitTimeMs: 1_000,
    });
    opened.push(transport);
    // The group's queue exists before the publish; boto3 then reads it instead of Herald.
    await (
      await transport.subscribe({ topic: 'orders', group: 'python', inFlightMax: 1 }, async () => {})
    ).close();
    const schema: StandardSchemaV1<{ orderId: string }, { orderId: string }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => ({ value: value as { orderId: string } }),
      },
    };
    const OrderCreated = defineEvent('order.created', {
      topic: 'orders',
      schema,
      key: (order) => order.orderId,
    });
    const bus = createBus({ transport, logger: silentLogger, source: '/herald' });
    const envelope = await bus.publish(OrderCreated, { orderId: 'o-9' });
    const queueUrl = transport.topology().queues.find((url) => !url.endsWith('-dlq.fifo'))!;
    const message = (await boto3('receive', AWS_ENDPOINT, queueUrl)) as {
      body: string;
      attributes: Record<string, string>;
    };
    assert.deepEqual(JSON.parse(message.body), { orderId: 'o-9' });
    assert.equal(message.attributes.ce_id, envelope.id);
    assert.equal(message.attributes.ce_type, 'order.created');
    assert.equal(message.attributes.ce_source, '/herald');
    assert.equal(message.attributes['content-type'], 'application/json');
    assert.equal(JSON.parse(message.attributes.herald!).k, 'o-9');
  });
});
