/**
 * Topic patterns on RabbitMQ, beyond the conformance scenarios: the AMQP mapping (pattern exchange,
 * `@t.<topic>` BCC keys), topics created later, per-key order, retry queues, hashed exchange names,
 * restart, foreign producers and the `topicPatterns: false` opt-out. Against the local broker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, before, describe, it } from 'node:test';
import {
  ConfigurationError,
  createBus,
  defineEvent,
  type ReceivedMessage,
  type StandardSchemaV1,
  silentLogger,
} from '@herald/bus';
import { assertOrderedPerKey, Collector, idOf, makeMessages, publishAll, quiet } from '@herald/conformance';
import { eventually, RABBITMQ_URL, requireRabbitMq } from '@herald/test-support';
import {
  type RabbitMqTransport,
  type RabbitMqTransportOptions,
  rabbitMqTransport,
} from '@herald/transport-rabbitmq';
import { connect } from 'amqplib';
import { patternBindingKey, topicRoutingKey } from '../src/topic-patterns.ts';
import { deleteTopology, dropConnections, type TopologyRecord } from './support.ts';

const record: TopologyRecord = { exchanges: new Set(), queues: new Set() };
/** One name for this file's connections, so dropConnections closes only them. */
const connectionName = `herald-patterns-test-${process.pid}`;
const open: RabbitMqTransport[] = [];

/** A fresh name prefix, so runs and tests never share a group. */
function freshPrefix(): string {
  return `herald-test.${randomUUID().slice(0, 8)}.`;
}

/** A transport closed and cleaned up after the test. */
async function transport(options: RabbitMqTransportOptions = {}): Promise<RabbitMqTransport> {
  const created = await rabbitMqTransport({
    url: RABBITMQ_URL,
    exchangePrefix: freshPrefix(),
    connectionName,
    reconnectDelayMsMax: 1_000,
    topicPatterns: true,
    ...options,
  });
  open.push(created);
  return created;
}

afterEach(async () => {
  for (const created of open.splice(0)) {
    await created.close();
    for (const name of created.topology().exchanges) record.exchanges.add(name);
    for (const name of created.topology().queues) record.queues.add(name);
  }
  await deleteTopology(record);
  record.exchanges.clear();
  record.queues.clear();
});

/** A schema accepting anything, so the test needs no validation library. */
const anything: StandardSchemaV1<unknown> = {
  '~standard': { version: 1, vendor: 'herald-test', validate: (value) => ({ value }) },
};

/** `topic/id` of a delivery, to check each message arrived under its own topic. */
const where = (message: ReceivedMessage) => `${message.topic}/${idOf(message)}`;

describe('rabbitmq topic patterns', { timeout: 300_000 }, () => {
  before(() => requireRabbitMq());

  it('binding keys - * stays one word, a final > is one or more words, every key starts with @t', () => {
    assert.equal(patternBindingKey('orders.*'), '@t.orders.*');
    assert.equal(patternBindingKey('tenant.>'), '@t.tenant.*.#');
    assert.equal(patternBindingKey('*.eu.>'), '@t.*.eu.*.#');
    assert.equal(topicRoutingKey('orders.eu'), '@t.orders.eu');
    // The longest topic still fits an AMQP routing key (255 bytes).
    assert.ok(Buffer.byteLength(topicRoutingKey('t'.repeat(249))) <= 255);
  });

  it('new topics - a group on orders.> gets topics first published to after it subscribed, each under its own name, and nothing else', async () => {
    const rabbit = await transport();
    const collector = new Collector();
    const subscription = await rabbit.subscribe(
      { topic: 'orders.>', group: 'audit', inFlightMax: 16 },
      collector.handler,
    );
    try {
      // Not matching: the bare prefix (> needs a word), another first word, an empty last word
      // (AMQP's * matches it, Herald's does not: the subscription drops it).
      await rabbit.publish('orders', makeMessages(1, 'bare'));
      await rabbit.publish('ordersx.eu', makeMessages(1, 'other'));
      await rabbit.publish('orders.', makeMessages(1, 'empty-word'));
      await rabbit.publish('orders.eu', makeMessages(2, 'eu'));
      await rabbit.publish('orders.eu.vip', makeMessages(1, 'vip'));
      const expected = ['orders.eu/eu-0', 'orders.eu/eu-1', 'orders.eu.vip/vip-0'].sort();
      await collector.waitAcked(['eu-0', 'eu-1', 'vip-0'], 'the pattern group');
      await quiet(() => collector.deliveries.length, 'the pattern group');
      assert.deepEqual(collector.deliveries.map(where).sort(), expected);
      const exchanges = rabbit.topology().exchanges;
      assert.ok(
        exchanges.some((name) => name.endsWith(':patterns')),
        `no pattern exchange among ${exchanges.join(', ')}`,
      );
    } finally {
      await subscription.close();
    }
  });

  it('per-key order - keys spread over two matching topics stay in order per key, with parallelism across keys', async () => {
    const rabbit = await transport({ shards: 4 });
    const collector = new Collector();
    await rabbit.subscribe({ topic: 'shop.*', group: 'g', inFlightMax: 32 }, collector.handler);
    const north = makeMessages(200, 'n', (index) => `n${index % 5}`);
    const south = makeMessages(200, 's', (index) => `s${index % 5}`);
    await Promise.all([publishAll(rabbit, 'shop.north', north), publishAll(rabbit, 'shop.south', south)]);
    await collector.waitAcked([...north, ...south].map(idOf), 'the pattern group');
    assertOrderedPerKey(collector.deliveries, 'shop.*');
    const shards = new Set(collector.deliveries.map((message) => message.partition));
    assert.ok(shards.size > 1, `keys spread over the shard queues (${[...shards]})`);
  });

  it('retry queue - a keyless message a pattern group nacks for 1 s comes back through the retry queue under its topic', async () => {
    const rabbit = await transport({ retryQueueDelayMsMin: 1_000 });
    const collector = new Collector(async (message) => {
      if (message.deliveryAttempt > 1) return 'ack';
      await message.nack({ delayMs: 1_000 });
      return 'hold';
    });
    await rabbit.subscribe({ topic: 'retries.*', group: 'g', inFlightMax: 1 }, collector.handler);
    await rabbit.publish('retries.eu', makeMessages(1, 'late'));
    await collector.waitAcked(['late-0']);
    assert.deepEqual(collector.deliveries.map(where), ['retries.eu/late-0', 'retries.eu/late-0']);
    assert.equal(collector.deliveries[1]!.deliveryAttempt, 2);
    assert.ok(
      rabbit.topology().queues.some((queue) => queue.endsWith(':retry-1000ms')),
      `no retry queue among ${rabbit.topology().queues.join(', ')}`,
    );
  });

  it('long topics - a topic whose exchange name is shortened with a hash still arrives under its own name', async () => {
    const rabbit = await transport();
    const topic = `long.${'x'.repeat(240)}`;
    const collector = new Collector();
    await rabbit.subscribe({ topic: 'long.*', group: 'g', inFlightMax: 4 }, collector.handler);
    await rabbit.publish(topic, makeMessages(1, 'long'));
    await collector.waitAcked(['long-0']);
    assert.equal(collector.deliveries[0]!.topic, topic);
    assert.ok(
      rabbit.topology().exchanges.some((name) => name.includes('~')),
      'the exchange name was hashed (else this test checks nothing)',
    );
  });

  it('restart - a pattern group keeps collecting matching messages, of new topics too, while its process is down', async () => {
    const prefix = freshPrefix();
    const subscriber = await transport({ exchangePrefix: prefix });
    await subscriber.subscribe({ topic: 'fleet.*', group: 'g', inFlightMax: 8 }, async (message) => {
      await message.ack();
    });
    await subscriber.close();
    const publisher = await transport({ exchangePrefix: prefix });
    await publisher.publish(
      'fleet.trucks',
      makeMessages(3, 'down', () => 'k'),
    );
    const again = await transport({ exchangePrefix: prefix });
    const collector = new Collector();
    await again.subscribe({ topic: 'fleet.*', group: 'g', inFlightMax: 8 }, collector.handler);
    await collector.waitAcked(['down-0', 'down-1', 'down-2'], 'after the restart');
    assert.deepEqual(collector.acked, ['down-0', 'down-1', 'down-2']);
  });

  it('reconnect - after a dropped connection the pattern group resumes and gets a topic first published to after the drop', async () => {
    const rabbit = await transport();
    const collector = new Collector();
    await rabbit.subscribe({ topic: 'drop.*', group: 'g', inFlightMax: 4 }, collector.handler);
    await rabbit.publish('drop.before', makeMessages(1, 'before'));
    await collector.waitAcked(['before-0'], 'before the drop');
    const dropped = await dropConnections(connectionName);
    assert.ok(dropped > 0, 'no connection was dropped (else this test checks nothing)');
    // The publish waits for the reconnect, then declares the new topic's exchange and binding.
    await rabbit.publish(
      'drop.after',
      makeMessages(2, 'after', () => 'k'),
    );
    await collector.waitAcked(['after-0', 'after-1'], 'after the drop');
    assert.ok(rabbit.stats().reconnects >= 1, 'the transport reconnected');
    assert.deepEqual(collector.deliveries.filter((message) => message.topic === 'drop.after').map(idOf), [
      'after-0',
      'after-1',
    ]);
  });

  it('foreign producers - a message published with the BCC key @t.<topic> reaches the pattern group; one without it does not', async () => {
    const prefix = freshPrefix();
    const rabbit = await transport({ exchangePrefix: prefix });
    const collector = new Collector();
    await rabbit.subscribe({ topic: 'legacy.*', group: 'g', inFlightMax: 4 }, collector.handler);
    // The exchange exists as any producer (or Herald's first publish) declares it.
    await rabbit.publish('legacy.feed', makeMessages(1, 'herald'));
    const amqp = await connect(RABBITMQ_URL);
    try {
      const channel = await amqp.createConfirmChannel();
      const send = (id: string, options: { BCC?: string }) =>
        channel.publish(`${prefix}legacy.feed`, 'feed.item', Buffer.from('{}'), {
          ...options,
          headers: { 'x-conformance-id': id },
          persistent: true,
        });
      send('without-key', {});
      send('with-key', { BCC: '@t.legacy.feed' });
      await channel.waitForConfirms();
      await channel.close();
    } finally {
      await amqp.close();
    }
    await collector.waitAcked(['herald-0', 'with-key'], 'the pattern group');
    await quiet(() => collector.deliveries.length, 'the pattern group');
    assert.deepEqual(collector.deliveries.map(where).sort(), [
      'legacy.feed/herald-0',
      'legacy.feed/with-key',
    ]);
  });

  it('default (topicPatterns off) - no pattern exchange, features say unsupported, subscribe and bus.on refuse a pattern saying how to turn it on', async () => {
    const rabbit = await transport({ topicPatterns: undefined }); // the default
    const feature = rabbit.features.topicPatterns;
    assert.equal(feature?.mode, 'unsupported');
    const bus = createBus({ transport: rabbit, ownsTransport: false, logger: silentLogger });
    const Tick = defineEvent('patterns.Tick', { topic: 'plain', schema: anything });
    assert.throws(
      () => bus.on(Tick, { group: 'g', topicPattern: 'plain.*' }, () => undefined),
      (error: unknown) =>
        error instanceof ConfigurationError && error.message.includes('topicPatterns: true'),
    );
    await bus.stop();
    await rabbit.subscribe({ topic: 'plain', group: 'g', inFlightMax: 4 }, async (message) => {
      await message.ack();
    });
    await rabbit.publish('plain', makeMessages(1, 'p'));
    assert.deepEqual(
      rabbit.topology().exchanges.filter((name) => name.endsWith(':patterns')),
      [],
      'no pattern exchange declared',
    );
    await assert.rejects(
      rabbit.subscribe({ topic: 'plain.*', group: 'g', inFlightMax: 4 }, async () => {}),
      (error: unknown) =>
        error instanceof ConfigurationError && error.message.includes('topicPatterns: true'),
    );
    await assert.rejects(
      rabbitMqTransport({ url: RABBITMQ_URL, topicPatterns: 'yes' as unknown as boolean }),
      (error: unknown) => error instanceof ConfigurationError && /topicPatterns/.test(error.message),
    );
  });

  it('mixed groups - a topic group with a types hint still gets only its types while a pattern group reads the topic', async () => {
    const rabbit = await transport();
    const typed = new Collector();
    const pattern = new Collector();
    await rabbit.subscribe(
      { topic: 'mixed.a', group: 'typed', inFlightMax: 4, types: ['wanted'] },
      typed.handler,
    );
    await rabbit.subscribe({ topic: 'mixed.*', group: 'all', inFlightMax: 4 }, pattern.handler);
    const typedMessage = (id: string, type: string) => ({
      headers: { 'x-conformance-id': id, ce_type: type },
      body: new Uint8Array(),
    });
    await rabbit.publish('mixed.a', [typedMessage('w', 'wanted'), typedMessage('u', 'unwanted')]);
    await pattern.waitAcked(['w', 'u'], 'the pattern group');
    await typed.waitAcked(['w'], 'the typed group');
    await quiet(() => typed.deliveries.length + pattern.deliveries.length, 'both groups');
    assert.deepEqual(typed.acked, ['w']);
    await eventually(
      () => pattern.acked.length === 2,
      () => `pattern group acked ${pattern.acked}`,
    );
  });
});
