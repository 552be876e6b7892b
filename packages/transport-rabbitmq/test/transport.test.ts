/** RabbitMQ-specific behaviour beyond the conformance suite, against the real local broker. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, before, describe, it } from 'node:test';
import { ConfigurationError, TransportError } from '@herald/bus';
import { Collector, idOf, makeMessages, publishAll } from '@herald/conformance';
import { eventually, RABBITMQ_URL, requireRabbitMq } from '@herald/test-support';
import {
  type RabbitMqTransport,
  type RabbitMqTransportOptions,
  rabbitMqTransport,
  shardForKey,
} from '@herald/transport-rabbitmq';
import { deleteTopology, describeQueue, dropConnections, type TopologyRecord } from './support.ts';

const record: TopologyRecord = { exchanges: new Set(), queues: new Set() };
const open: RabbitMqTransport[] = [];
const connectionName = `herald-transport-test-${process.pid}`;

/** A transport with a fresh name prefix; closed and cleaned up after the test. */
async function transport(options: RabbitMqTransportOptions = {}): Promise<RabbitMqTransport> {
  const created = await rabbitMqTransport({
    url: RABBITMQ_URL,
    exchangePrefix: `herald-test.${randomUUID().slice(0, 8)}.`,
    connectionName,
    reconnectDelayMsMax: 1_000,
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

describe('rabbitmq transport', { timeout: 600_000 }, () => {
  before(() => requireRabbitMq());
  it('restart - unacked messages stay in the durable queues across a close and reopen', async () => {
    const prefix = `herald-test.${randomUUID().slice(0, 8)}.`;
    const first = await transport({ exchangePrefix: prefix });
    const before = new Collector((message) => (Number(message.headers['x-sequence']) < 20 ? 'ack' : 'hold'));
    await first.subscribe({ topic: 'restart', group: 'g', inFlightMax: 64 }, before.handler);
    const messages = makeMessages(40, 'r', (index) => `k${index % 4}`);
    await publishAll(first, 'restart', messages);
    const firstHalf = messages.slice(0, 20).map(idOf);
    await before.waitAcked(firstHalf, 'before the restart');
    await first.close();
    const second = await transport({ exchangePrefix: prefix });
    const after = new Collector();
    await second.subscribe({ topic: 'restart', group: 'g', inFlightMax: 8 }, after.handler);
    await after.waitAcked(messages.slice(20).map(idOf), 'after the restart');
    assert.deepEqual(
      after.acked.filter((id) => firstHalf.includes(id)),
      [],
      'acked messages came back',
    );
    const redelivered = after.deliveries.filter((delivery) => delivery.deliveryAttempt >= 2);
    assert.ok(redelivered.length > 0, 'messages delivered before the restart report deliveryAttempt ≥ 2');
  });

  it('retry queue - a keyless message nacked for 1 s returns through a TTL retry queue, not before the delay', async () => {
    const rabbit = await transport({ retryQueueDelayMsMin: 1_000 });
    const deliveredAtMs: number[] = [];
    const collector = new Collector(async (message) => {
      deliveredAtMs.push(performance.now());
      if (deliveredAtMs.length > 1) return 'ack';
      await message.nack({ delayMs: 1_000 });
      return 'hold';
    });
    await rabbit.subscribe({ topic: 'retries', group: 'g', inFlightMax: 1 }, collector.handler);
    await rabbit.publish('retries', makeMessages(1, 'late'));
    await collector.waitAcked(['late-0']);
    const gapMs = deliveredAtMs[1]! - deliveredAtMs[0]!;
    assert.ok(gapMs >= 990, `redelivered after ${gapMs.toFixed(0)} ms`);
    assert.equal(collector.deliveries[1]!.deliveryAttempt, 2);
    assert.ok(
      rabbit.topology().queues.some((queue) => queue.endsWith(':retry-1000ms')),
      `no retry queue among ${rabbit.topology().queues.join(', ')}`,
    );
  });

  it('hold delay - a keyed nack longer than holdDelayMsMax is held for holdDelayMsMax, its key blocked meanwhile', async () => {
    const rabbit = await transport({ holdDelayMsMax: 1_000 });
    const attempts: { id: string; atMs: number }[] = [];
    let nackedAtMs = 0;
    await rabbit.subscribe({ topic: 'held', group: 'g', inFlightMax: 4 }, async (message) => {
      attempts.push({ id: idOf(message), atMs: performance.now() });
      if (idOf(message) === 'k-0' && message.deliveryAttempt === 1) {
        nackedAtMs = performance.now();
        await message.nack({ delayMs: 60_000 });
      } else {
        await message.ack();
      }
    });
    await publishAll(
      rabbit,
      'held',
      makeMessages(2, 'k', () => 'one-key'),
    );
    await eventually(
      () => attempts.some((attempt) => attempt.id === 'k-1'),
      () => `k-0 again after about 1 s, then k-1 (${attempts.map((attempt) => attempt.id)})`,
    );
    assert.deepEqual(
      attempts.map((attempt) => attempt.id),
      ['k-0', 'k-0', 'k-1'],
      'k-1 waited behind its held key',
    );
    const heldMs = attempts[1]!.atMs - nackedAtMs;
    assert.ok(heldMs >= 900 && heldMs < 10_000, `held for holdDelayMsMax (${Math.round(heldMs)} ms)`);
  });

  it('shards - a key is delivered from the shard murmur2 picks, so one key stays in one queue', async () => {
    const rabbit = await transport({ shards: 3 });
    const collector = new Collector();
    await rabbit.subscribe({ topic: 'shards', group: 'g', inFlightMax: 16 }, collector.handler);
    const messages = makeMessages(30, 's', (index) => `key-${index % 6}`);
    await publishAll(rabbit, 'shards', messages);
    await collector.waitAcked(messages.map(idOf));
    for (const delivery of collector.deliveries) {
      assert.equal(delivery.partition, shardForKey(delivery.key!, 3), `${delivery.key}`);
    }
    assert.ok(
      new Set(collector.deliveries.map((delivery) => delivery.partition)).size > 1,
      'all in one shard',
    );
  });

  it('routing - a group bound to some types gets only those; a fanout topic gives every group everything', async () => {
    const rabbit = await transport({ fanoutTopics: ['broadcast'] });
    const typed = (type: string, id: string) => ({
      headers: { ce_type: type, 'x-conformance-id': id },
      body: new Uint8Array([1]),
    });
    const created = new Collector();
    await rabbit.subscribe(
      { topic: 'orders', group: 'created', inFlightMax: 4, types: ['order.created'] },
      created.handler,
    );
    const everything = new Collector();
    await rabbit.subscribe({ topic: 'orders', group: 'all', inFlightMax: 4 }, everything.handler);
    await rabbit.publish('orders', [typed('order.created', 'c'), typed('order.shipped', 's')]);
    await everything.waitAcked(['c', 's'], 'group without types');
    await created.waitAcked(['c'], 'group bound to order.created');
    assert.deepEqual(created.acked, ['c'], 'order.shipped reached a group bound to order.created only');

    const first = new Collector();
    const second = new Collector();
    await rabbit.subscribe(
      { topic: 'broadcast', group: 'one', inFlightMax: 4, types: ['nothing'] },
      first.handler,
    );
    await rabbit.subscribe({ topic: 'broadcast', group: 'two', inFlightMax: 4 }, second.handler);
    await rabbit.publish('broadcast', [typed('anything', 'b')]);
    await first.waitAcked(['b'], 'fanout group one');
    await second.waitAcked(['b'], 'fanout group two');
  });

  it('unroutable - a publish no queue takes resolves and is counted; with unroutable: reject it rejects', async () => {
    const lenient = await transport();
    await lenient.publish('nobody-listens', makeMessages(3, 'u'));
    assert.equal(lenient.stats().unroutable, 3);
    const strict = await transport({ unroutable: 'reject' });
    await assert.rejects(strict.publish('nobody-listens', makeMessages(1, 'u')), (error: unknown) => {
      assert.ok(error instanceof TransportError, String(error));
      assert.match(error.message, /reached no queue/);
      return true;
    });
    const collector = new Collector();
    await strict.subscribe(
      { topic: 'nobody-listens', group: 'now-someone', inFlightMax: 1 },
      collector.handler,
    );
    await strict.publish('nobody-listens', makeMessages(1, 'routed'));
    await collector.waitAcked(['routed-0']);
  });

  it('classic queues - queueType classic delivers in order per key too', async () => {
    const rabbit = await transport({ queueType: 'classic' });
    const seen = new Map<string, number[]>();
    const collector = new Collector((message) => {
      seen.set(message.key!, [...(seen.get(message.key!) ?? []), Number(message.headers['x-sequence'])]);
      return 'ack';
    });
    await rabbit.subscribe({ topic: 'classic', group: 'g', inFlightMax: 8 }, collector.handler);
    const messages = makeMessages(60, 'c', (index) => `k${index % 3}`);
    await publishAll(rabbit, 'classic', messages);
    await collector.waitAcked(messages.map(idOf));
    for (const [key, sequences] of seen) {
      assert.deepEqual(
        sequences,
        [...sequences].sort((left, right) => left - right),
        key,
      );
    }
  });

  it('reconnect - after a dropped connection the transport reconnects, and a publish during the outage waits for it', async () => {
    const rabbit = await transport();
    const collector = new Collector();
    await rabbit.subscribe({ topic: 'outage', group: 'g', inFlightMax: 4 }, collector.handler);
    assert.ok((await dropConnections(connectionName)) >= 1, 'no connection was dropped');
    // Published right after the drop: it waits for the new connection and must not vanish.
    await rabbit.publish('outage', makeMessages(5, 'o'));
    await collector.waitAcked(['o-0', 'o-1', 'o-2', 'o-3', 'o-4'], 'subscriber after the reconnect');
    await eventually(
      () => rabbit.stats().reconnects >= 1,
      () => `a reconnect to be counted (${rabbit.stats().reconnects})`,
    );
  });

  it('dead-letter streams - a .dlq topic replays to every new group from its start, with bounded retention; others do not', async () => {
    const rabbit = await transport({ streamBytesMax: 64 * 1024 * 1024, streamAgeMax: '2D' });
    assert.equal(rabbit.features.replaysToNewGroups, false);
    assert.equal(rabbit.features.replaysTopic?.('orders.dlq'), true);
    assert.equal(rabbit.features.replaysTopic?.('orders'), false);
    // Published before any group exists: kept by the stream, not unroutable.
    await rabbit.publish(
      'orders.dlq',
      makeMessages(3, 'd', () => 'same-key'),
    );
    assert.equal(rabbit.stats().unroutable, 0);
    for (const group of ['first-reader', 'second-reader']) {
      const reader = new Collector();
      await rabbit.subscribe({ topic: 'orders.dlq', group, inFlightMax: 8 }, reader.handler);
      await reader.waitAcked(['d-0', 'd-1', 'd-2'], group);
      assert.deepEqual(reader.acked, ['d-0', 'd-1', 'd-2'], `${group} read in order`);
      assert.deepEqual(
        reader.deliveries.map((delivery) => delivery.offset),
        ['0', '1', '2'],
        'offsets are stream positions',
      );
      assert.ok(!('x-stream-offset' in reader.deliveries[0]!.headers), 'broker header leaked');
    }
    const stream = rabbit.topology().queues.find((queue) => queue.endsWith('orders.dlq:stream'));
    assert.ok(stream !== undefined, `no stream queue among ${rabbit.topology().queues.join(', ')}`);
    const described = await describeQueue(stream);
    assert.equal(described?.type, 'stream');
    assert.match(described!.arguments, /"x-max-length-bytes",67108864/);
    assert.match(described!.arguments, /"x-max-age","2D"/);

    const off = await transport({ replayTopics: [] });
    assert.equal(off.features.replaysTopic?.('orders.dlq'), false);
    await off.publish('orders.dlq', makeMessages(1, 'lost'));
    assert.equal(off.stats().unroutable, 1, 'without replay a .dlq topic is a plain topic');
    const listed = await transport({ replayTopics: ['audit'] });
    assert.equal(listed.features.replaysTopic?.('audit'), true);
    assert.equal(listed.features.replaysTopic?.('orders.dlq'), false);
  });

  it('dead-letter streams - a nack is held in the process (streams refuse nacks); a dropped connection resumes at the oldest unacked offset', async () => {
    const rabbit = await transport();
    let nacked = false;
    let holding = true;
    const reader = new Collector((message) => {
      const id = idOf(message);
      if (id === 's-1' && !nacked) {
        nacked = true;
        return 'nack';
      }
      return id === 's-3' && holding ? 'hold' : 'ack';
    });
    await rabbit.publish(
      'held.dlq',
      makeMessages(5, 's', (index) => `k${index}`),
    );
    await rabbit.subscribe({ topic: 'held.dlq', group: 'reader', inFlightMax: 8 }, reader.handler);
    await reader.waitAcked(['s-0', 's-1', 's-2', 's-4'], 'reader before the drop');
    const again = reader.deliveries.filter((delivery) => idOf(delivery) === 's-1');
    assert.deepEqual(
      again.map((delivery) => delivery.deliveryAttempt),
      [1, 2],
      'the nacked message came back, counted',
    );
    holding = false;
    assert.ok((await dropConnections(connectionName)) >= 1, 'no connection was dropped');
    await reader.waitAcked(['s-3'], 'the held message after the reconnect');
    const redelivered = reader.deliveries.filter((delivery) => idOf(delivery) === 's-3');
    assert.equal(redelivered.at(-1)!.deliveryAttempt, 2, 'a stream redelivery counts as attempt 2');
    for (const id of ['s-0', 's-1', 's-2']) {
      assert.equal(
        reader.acked.filter((acked) => acked === id).length,
        1,
        `${id} before the unacked offset came back`,
      );
    }
  });

  it('errors - an unreachable broker is a retriable TransportError that says how to start RabbitMQ', async () => {
    await assert.rejects(
      rabbitMqTransport({ url: 'amqp://guest:guest@127.0.0.1:1', connectTimeoutMs: 300 }),
      (error: unknown) => {
        assert.ok(error instanceof TransportError, String(error));
        assert.ok(error.retriable);
        assert.match(error.message, /127\.0\.0\.1:1.*connection refused.*rabbitmq-server -detached/s);
        return true;
      },
    );
  });

  it('errors - wrong credentials are a ConfigurationError naming the user, never the password', async () => {
    await assert.rejects(
      rabbitMqTransport({ url: 'amqp://guest:not-the-password@127.0.0.1:5672' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError, String(error));
        assert.match(error.message, /user "guest"/);
        assert.doesNotMatch(error.message, /not-the-password/);
        return true;
      },
    );
  });

  it('errors - out-of-range options are ConfigurationErrors naming the option and its bounds', async () => {
    await assert.rejects(rabbitMqTransport({ shards: 0 }), /shards must be an integer from 1 to 64/);
    await assert.rejects(rabbitMqTransport({ queueType: 'stream' as 'quorum' }), ConfigurationError);
    await assert.rejects(rabbitMqTransport({ url: 'http://localhost' }), /amqp:\/\//);
    await assert.rejects(rabbitMqTransport({ exchangePrefix: 'bad prefix' }), ConfigurationError);
    await assert.rejects(rabbitMqTransport({ streamAgeMax: 'forever' }), /streamAgeMax/);
    await assert.rejects(rabbitMqTransport({ streamBytesMax: 10 }), /streamBytesMax must be/);
    await assert.rejects(rabbitMqTransport({ replayTopics: ['bad topic!'] }), ConfigurationError);
  });
});
