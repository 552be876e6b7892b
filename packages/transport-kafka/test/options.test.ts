/**
 * Options of the Kafka transport whose effect the README promises, each observed on an in-process
 * `@herald/kafka-server` (its `onResponse` hook tells which requests the client sent):
 * `idempotent: false` (no InitProducerId), `createTopics: false` (no CreateTopics, a missing topic
 * is not made), `partitionWindowMax` (a partition is not fetched past it until its oldest record
 * is acked) and `drainTimeoutMs` (a rebalance waits that long for a handler that never settles).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { silentLogger } from '@herald/bus';
import { Collector, type Decision, idOf, makeMessages, quiet } from '@herald/conformance';
import { type KafkaServer, type KafkaServerOptions, startKafkaServer } from '@herald/kafka-server';
import { eventually, temporaryDirectory } from '@herald/test-support';
import { type KafkaTransport, type KafkaTransportOptions, kafkaTransport } from '@herald/transport-kafka';

/** Kafka API keys of the requests counted here. */
const API_KEY = { Produce: 0, OffsetCommit: 8, CreateTopics: 19, InitProducerId: 22 } as const;

const servers: KafkaServer[] = [];
const transports: KafkaTransport[] = [];
after(async () => {
  for (const transport of transports.splice(0)) await transport.close().catch(() => {});
  for (const server of servers.splice(0)) await server.close().catch(() => {});
});

/** An in-process server on a free port; `requests` counts the responses it sent per API key. */
async function serve(options: Partial<KafkaServerOptions> = {}) {
  const dir = temporaryDirectory('herald-transport-kafka-options-');
  const requests = new Map<number, number>();
  const server = await startKafkaServer({
    dir,
    port: 0,
    partitions: 1,
    onResponse: ({ apiKey }) => requests.set(apiKey, (requests.get(apiKey) ?? 0) + 1),
    ...options,
  });
  servers.push(server);
  return { server, requests };
}

async function transport(server: KafkaServer, options: Partial<KafkaTransportOptions> = {}) {
  const created = await kafkaTransport({
    brokers: [`127.0.0.1:${server.port}`],
    logger: silentLogger,
    closeTimeoutMs: 2_000,
    ...options,
  });
  transports.push(created);
  return created;
}

describe('kafka transport options', { timeout: 180_000 }, () => {
  it('idempotent - false never asks for a producer id; the default does', async () => {
    const { server, requests } = await serve();
    const plain = await transport(server, { idempotent: false });
    await plain.publish('plain', makeMessages(3, 'p'));
    assert.equal(requests.get(API_KEY.InitProducerId) ?? 0, 0, 'InitProducerId with idempotent: false');
    assert.ok((requests.get(API_KEY.Produce) ?? 0) > 0, 'the messages were produced');
    const idempotent = await transport(server);
    await idempotent.publish('plain', makeMessages(1, 'i'));
    assert.ok((requests.get(API_KEY.InitProducerId) ?? 0) >= 1, 'the default producer is idempotent');
    assert.equal((await server.broker.describeTopic('plain')).partitions[0]!.highWatermark, 4n);
  });

  it('createTopics - false sends no CreateTopics and does not make a missing topic', async () => {
    const { server, requests } = await serve({ autoCreateTopics: false });
    await server.broker.createTopic('existing', { partitions: 2 });
    const strict = await transport(server, { createTopics: false, partitions: 5 });
    await strict.publish('existing', makeMessages(2, 'e'));
    await assert.rejects(strict.publish('missing', makeMessages(1, 'm')));
    assert.equal(requests.get(API_KEY.CreateTopics) ?? 0, 0, 'CreateTopics requests');
    assert.deepEqual(server.broker.listTopics(), ['existing'], 'nothing was created');
    // The default creates a topic on first use, with `partitions`.
    const creating = await transport(server, { partitions: 5 });
    await creating.publish('created', makeMessages(1, 'c'));
    assert.ok((requests.get(API_KEY.CreateTopics) ?? 0) >= 1);
    assert.equal((await server.broker.describeTopic('created')).partitions.length, 5);
  });

  it('partitionWindowMax - a partition is not fetched past its window until the oldest record is acked', async () => {
    const { server } = await serve();
    await server.broker.createTopic('windowed', { partitions: 1 });
    const kafka = await transport(server, { partitionWindowMax: 64, fetchWaitMsMax: 50 });
    await kafka.publish('windowed', makeMessages(64, 'first')); // One batch: one fetch fills the window.
    let release = false;
    const collector = new Collector(
      (message): Decision => (idOf(message) === 'first-0' && !release ? 'hold' : 'ack'),
    );
    await kafka.subscribe({ topic: 'windowed', group: 'g', inFlightMax: 256 }, collector.handler);
    await collector.waitAcked(
      makeMessages(63, 'first').map((_, index) => `first-${index + 1}`),
      'every record but the held first-0',
    );
    await kafka.publish('windowed', makeMessages(10, 'second'));
    await quiet(() => collector.deliveries.length, 'deliveries while first-0 is held');
    const early = collector.deliveries.map(idOf).filter((id) => id.startsWith('second-'));
    assert.deepEqual(early, [], '64 records not committable: the partition is not fetched');
    release = true;
    await collector.deliveries.find((message) => idOf(message) === 'first-0')!.ack();
    await collector.waitAcked(
      makeMessages(10, 'second').map(idOf),
      'the records fetched once the window had room',
    );
  });

  it('nackDelayMsMax - a longer nack delay is cut to it; the key stays blocked meanwhile', async () => {
    const { server } = await serve();
    await server.broker.createTopic('nacked', { partitions: 1 });
    const kafka = await transport(server, { nackDelayMsMax: 1_000, fetchWaitMsMax: 50 });
    const attempts: { id: string; atMs: number }[] = [];
    let nackedAtMs = 0;
    await kafka.subscribe({ topic: 'nacked', group: 'g', inFlightMax: 4 }, async (message) => {
      attempts.push({ id: idOf(message), atMs: performance.now() });
      if (idOf(message) === 'k-0' && message.deliveryAttempt === 1) {
        nackedAtMs = performance.now();
        await message.nack({ delayMs: 60_000 });
      } else {
        await message.ack();
      }
    });
    await kafka.publish(
      'nacked',
      makeMessages(2, 'k', () => 'one-key'),
    );
    await eventually(
      () => attempts.filter((attempt) => attempt.id === 'k-1').length === 1,
      () => `k-0 again after about 1 s, then k-1 (${attempts.map((attempt) => attempt.id)})`,
      10_000,
    );
    assert.deepEqual(
      attempts.map((attempt) => attempt.id),
      ['k-0', 'k-0', 'k-1'],
      'k-1 waited behind its nacked key',
    );
    const delayMs = attempts[1]!.atMs - nackedAtMs;
    assert.ok(
      delayMs >= 900 && delayMs < 10_000,
      `redelivered after nackDelayMsMax (${Math.round(delayMs)} ms)`,
    );
  });

  it('fetchPartitionBytesMax - a batch larger than it still comes whole', async () => {
    const { server } = await serve();
    await server.broker.createTopic('large', { partitions: 1 });
    const kafka = await transport(server, { fetchPartitionBytesMax: 64 * 1024, fetchWaitMsMax: 50 });
    const body = new Uint8Array(300_000).fill(7);
    await kafka.publish('large', [{ headers: { 'x-conformance-id': 'large-0' }, body }]);
    const collector = new Collector();
    await kafka.subscribe({ topic: 'large', group: 'g', inFlightMax: 4 }, collector.handler);
    await collector.waitAcked(['large-0'], 'the 300 kB message through 64 KiB fetches');
    assert.deepEqual(collector.deliveries[0]!.body, body);
  });

  it('lingerMs and batchBytesMax - publishes wait up to lingerMs for company, and a request carries at most batchBytesMax', async () => {
    const { server } = await serve();
    await server.broker.createTopic('batched', { partitions: 1 });
    const batches = async () =>
      (await server.broker.readBatches('batched', 0, 0n, 64 * 1024 * 1024)).batchCount;
    // Each produce request stores one batch per partition: the stored batches count the requests.
    const lingering = await transport(server, { lingerMs: 500, idempotent: false });
    const startedMs = performance.now();
    await Promise.all(
      Array.from({ length: 5 }, (_, index) => lingering.publish('batched', makeMessages(1, `l${index}`))),
    );
    const lingeredMs = performance.now() - startedMs;
    assert.ok(
      lingeredMs >= 400 && lingeredMs < 5_000,
      `an idle publish waited for lingerMs (${Math.round(lingeredMs)} ms)`,
    );
    assert.equal(await batches(), 1, 'five publishes within lingerMs share one request');
    const small = await transport(server, { lingerMs: 200, batchBytesMax: 64 * 1024, idempotent: false });
    const body = new Uint8Array(20_000);
    await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        small.publish('batched', [{ headers: { 'x-conformance-id': `b-${index}` }, body }]),
      ),
    );
    const requests = (await batches()) - 1;
    assert.ok(requests >= 4, `200 kB in requests of at most 64 KiB: ${requests} requests`);
    assert.equal((await server.broker.describeTopic('batched')).partitions[0]!.highWatermark, 15n);
  });

  it('commitIntervalMs - acks are committed at most every commitIntervalMs, and at once on close', async () => {
    const { server, requests } = await serve();
    await server.broker.createTopic('committed', { partitions: 1 });
    const kafka = await transport(server, { commitIntervalMs: 1_000, fetchWaitMsMax: 50 });
    const collector = new Collector();
    const subscription = await kafka.subscribe(
      { topic: 'committed', group: 'g', inFlightMax: 8 },
      collector.handler,
    );
    const commitsBefore = requests.get(API_KEY.OffsetCommit) ?? 0;
    const startedMs = performance.now();
    // Acks keep coming for about 2 s: ten bursts, each acked before the next is published.
    for (let burst = 0; burst < 10; burst++) {
      const batch = makeMessages(5, `c${burst}`);
      await kafka.publish('committed', batch);
      await collector.waitAcked(batch.map(idOf), `burst ${burst}`);
      await eventually(
        () => performance.now() - startedMs >= (burst + 1) * 200,
        () => 'the next burst time',
      );
    }
    const elapsedMs = performance.now() - startedMs;
    const commits = (requests.get(API_KEY.OffsetCommit) ?? 0) - commitsBefore;
    const allowed = Math.ceil(elapsedMs / 1_000) + 1;
    assert.ok(
      commits >= 1 && commits <= allowed,
      `${commits} commits in ${Math.round(elapsedMs)} ms (at most ${allowed})`,
    );
    await subscription.close();
    assert.equal(
      (await server.broker.committedOffsets('committed', 'g')).get(0),
      50n,
      'everything acked is committed on close',
    );
  });

  it('drainTimeoutMs - a rebalance waits that long for a handler that never settles, then moves on', async () => {
    const { server } = await serve({ groups: { initialRebalanceDelayMs: 0 } });
    await server.broker.createTopic('drained', { partitions: 1 });
    const drainTimeoutMs = 3_000;
    const options = { drainTimeoutMs, sessionTimeoutMs: 10_000, fetchWaitMsMax: 50 };
    const first = await transport(server, options);
    const second = await transport(server, options);
    await first.publish('drained', makeMessages(1, 'stuck'));
    // The first delivery is held forever; a later one (after the rebalance) is acked.
    const collector: Collector = new Collector(
      (): Decision => (collector.deliveries.length === 1 ? 'hold' : 'ack'),
    );
    await first.subscribe({ topic: 'drained', group: 'g', inFlightMax: 4 }, collector.handler);
    await eventually(
      () => collector.deliveries.length === 1,
      () => 'the first delivery',
    );
    const joinedMs = performance.now();
    await second.subscribe({ topic: 'drained', group: 'g', inFlightMax: 4 }, collector.handler);
    await eventually(
      () => collector.acked.includes('stuck-0'),
      () => `stuck-0 delivered again after the rebalance (deliveries ${collector.deliveries.length})`,
      drainTimeoutMs + 20_000,
    );
    const elapsedMs = performance.now() - joinedMs;
    assert.ok(
      elapsedMs >= drainTimeoutMs - 200,
      `the revoke waited for the handler (${Math.round(elapsedMs)} ms)`,
    );
    assert.ok(elapsedMs < drainTimeoutMs + 15_000, `and then gave up on it (${Math.round(elapsedMs)} ms)`);
  });
});
