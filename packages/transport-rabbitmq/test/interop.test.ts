/**
 * Interop with a client Herald did not write (Python pika, Debian `python3-pika`): CloudEvents
 * cross the AMQP binding both ways with their `cloudEvents:` headers intact.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { createBus, decodeEnvelope, defineEvent, type Envelope, silentLogger, uuidv7 } from '@herald/bus';
import {
  eventually,
  POLL_TIMEOUT_MS_DEFAULT,
  RABBITMQ_URL,
  requireRabbitMq,
  requireTool,
} from '@herald/test-support';
import { rabbitMqTransport } from '@herald/transport-rabbitmq';
import { z } from 'zod';
import { deleteTopology, type TopologyRecord } from './support.ts';

const SCRIPT = path.join(import.meta.dirname, 'pika', 'interop.py');
// Debian's python3-pika is installed for Debian's interpreter; a pyenv or venv python3 earlier on
// PATH would not see it.
const PYTHON = process.env.HERALD_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const OrderCreated = defineEvent('order.created', {
  topic: 'orders',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  key: (order) => order.orderId,
});

/** pika processes started, killed after the suite even when a test failed half-way. */
const children = new Set<ChildProcess>();

/** Runs the pika script; resolves with its stdout lines as they come, and its exit. */
function pika(...args: string[]) {
  const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = once(child, 'exit').then(([code]) => {
    assert.equal(code, 0, `pika ${args[0]} exited with ${code}: ${stderr}`);
  });
  return {
    async line(): Promise<string> {
      const next = await lines.next();
      assert.ok(!next.done, `pika ${args[0]} ended without output: ${stderr}`);
      return next.value;
    },
    exited,
  };
}

// Exchange `orders` and the groups' queues are fixed names here; delete leftovers first and after.
const record: TopologyRecord = { exchanges: new Set(['orders']), queues: new Set() };
for (const group of ['billing']) {
  record.exchanges.add(`orders:${group}`).add(`orders:${group}:unsharded`);
  for (let shard = 0; shard < 4; shard++) record.queues.add(`orders:${group}:${shard}`);
}

describe('interop - Python pika', { timeout: 120_000 }, () => {
  before(async () => {
    requireTool(PYTHON, ['-c', 'import pika'], "pika (Debian's python3-pika)");
    await requireRabbitMq();
    await deleteTopology(record);
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await deleteTopology(record).catch(() => {});
  });

  it('interop - a CloudEvent published by pika to orders/order.created reaches a Herald handler bound to order.*', async () => {
    const transport = await rabbitMqTransport({
      url: RABBITMQ_URL,
      exchangePrefix: '',
      groupBindings: { billing: ['order.*'] },
    });
    const bus = createBus({ transport, source: '/interop/herald', logger: silentLogger });
    const received: Envelope<{ orderId: string; total: number }>[] = [];
    bus.on(OrderCreated, { group: 'billing' }, async (_data, context) => {
      received.push(context.envelope);
    });
    try {
      await bus.start();
      const id = uuidv7();
      const publisher = pika('publish', RABBITMQ_URL, 'orders', 'order.created', id);
      assert.equal(await publisher.line(), 'published');
      await publisher.exited;
      await eventually(
        () => received.length > 0,
        () => 'the Herald handler to receive the pika event',
      );
      const envelope = received[0]!;
      assert.equal(envelope.id, id);
      assert.equal(envelope.type, 'order.created');
      assert.equal(envelope.source, '/interop/pika');
      assert.equal(envelope.time, '2026-01-02T03:04:05Z');
      assert.equal(envelope.partitionkey, 'o-42');
      assert.equal(envelope.datacontenttype, 'application/json');
      assert.deepEqual(envelope.extensions, { tenant: 'acme' });
      assert.deepEqual(envelope.data, { orderId: 'o-42', total: 12.5 });
    } finally {
      await bus.stop();
    }
  });

  it('interop - a Herald event is read by a pika consumer with its cloudEvents: headers intact', async () => {
    const transport = await rabbitMqTransport({ url: RABBITMQ_URL, exchangePrefix: '' });
    const bus = createBus({ transport, source: '/interop/herald', logger: silentLogger });
    try {
      // The exchange must exist before pika binds to it; publishing declares it.
      await bus.publish(OrderCreated, { orderId: 'o-7', total: 3 });
      const consumer = pika(
        'consume',
        RABBITMQ_URL,
        'orders',
        'order.*',
        String(POLL_TIMEOUT_MS_DEFAULT / 1000),
      );
      assert.equal(await consumer.line(), 'ready');
      const envelope = await bus.publish(
        OrderCreated,
        { orderId: 'o-8', total: 4.25 },
        { correlationId: 'c-1' },
      );
      const seen = JSON.parse(await consumer.line()) as {
        routing_key: string;
        content_type: string;
        headers: Record<string, unknown>;
        body: string;
      };
      await consumer.exited;
      assert.equal(seen.routing_key, 'order.created');
      assert.equal(seen.content_type, 'application/json');
      assert.equal(seen.headers['cloudEvents:id'], envelope.id);
      assert.equal(seen.headers['cloudEvents:specversion'], '1.0');
      assert.equal(seen.headers['cloudEvents:type'], 'order.created');
      assert.equal(seen.headers['cloudEvents:source'], '/interop/herald');
      assert.equal(seen.headers['cloudEvents:time'], envelope.time);
      assert.equal(seen.headers['cloudEvents:partitionkey'], 'o-8');
      assert.equal(seen.headers['cloudEvents:correlationid'], 'c-1');
      assert.ok(
        !Object.keys(seen.headers).some((name) => name.startsWith('ce_')),
        `no Kafka-style ce_ headers on AMQP: ${Object.keys(seen.headers).join(', ')}`,
      );
      // Decoded the way any CloudEvents SDK would, the event is the one Herald published.
      const ceHeaders: Record<string, string> = { 'content-type': seen.content_type };
      for (const [name, value] of Object.entries(seen.headers)) {
        if (name.startsWith('cloudEvents:'))
          ceHeaders[`ce_${name.slice('cloudEvents:'.length)}`] = String(value);
      }
      const decoded = decodeEnvelope({ headers: ceHeaders, body: new TextEncoder().encode(seen.body) });
      // JSON drops the bus envelope's undefined optional attributes, which were never sent.
      assert.deepEqual(decoded, JSON.parse(JSON.stringify(envelope)));
    } finally {
      await bus.stop();
    }
  });
});
