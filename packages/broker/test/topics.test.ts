import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  DirectoryLockedError,
  embeddedTransport,
  openBroker,
  TopicExistsError,
  TopicInUseError,
  TopicNotFoundError,
} from '@herald/broker';
import { ConfigurationError } from '@herald/bus';
import { eventually } from '@herald/test-support';
import { freshDirectory, messages, tracked } from './support.ts';

describe('topics', { timeout: 120_000 }, () => {
  it('topics - settings given at creation apply to the log and survive a restart', async () => {
    const dir = freshDirectory();
    let broker = tracked(await openBroker({ dir, partitions: 1 }));
    try {
      await assert.rejects(
        broker.createTopic('bad', { config: { segmentBytesMax: 0 } }),
        (error: unknown) =>
          error instanceof ConfigurationError && /segmentBytesMax/.test((error as Error).message),
      );
      assert.deepEqual(broker.listTopics(), [], 'nothing is created for a bad setting');
      const config = { segmentBytesMax: 1024, retentionMs: Number.POSITIVE_INFINITY, batchBytesMax: 2048 };
      assert.deepEqual((await broker.createTopic('small', { config })).config, config);
      assert.deepEqual((await broker.createTopic('plain')).config, {});
      await broker.close();
      broker = tracked(await openBroker({ dir, partitions: 1 }));
      assert.deepEqual((await broker.describeTopic('small')).config, config);
      await assert.rejects(broker.publish('small', messages(1, 'x'.repeat(4096))), /large|bytes/i);
      for (let index = 0; index < 4; index++) await broker.publish('small', messages(1, 'y'.repeat(700)));
      const segments = readdirSync(path.join(dir, 'small-0')).filter((file) => file.endsWith('.log'));
      assert.ok(segments.length >= 2, `segments of 1 KiB roll: ${segments.join(', ')}`);
    } finally {
      await broker.close();
    }
  });

  it('topics - create, list, describe and delete; metadata survives a restart', async () => {
    const dir = freshDirectory();
    const broker = tracked(await openBroker({ dir }));
    const created = await broker.createTopic('payments', { partitions: 3 });
    assert.equal(created.partitions.length, 3);
    await broker.createTopic('audit');
    assert.deepEqual(broker.listTopics(), ['audit', 'payments']);
    assert.equal((await broker.describeTopic('audit')).partitions.length, 4, 'default partition count');
    await broker.publish(
      'payments',
      messages(6, 'p', (index) => `k${index}`),
    );
    const described = await broker.describeTopic('payments');
    assert.equal(
      described.partitions.reduce((sum, partition) => sum + partition.highWatermark, 0n),
      6n,
    );
    await broker.close();

    const reopened = tracked(await openBroker({ dir }));
    assert.deepEqual(reopened.listTopics(), ['audit', 'payments']);
    const again = await reopened.describeTopic('payments');
    assert.equal(again.partitions.length, 3);
    assert.equal(again.createdAtMs, created.createdAtMs);
    await reopened.deleteTopic('payments');
    assert.deepEqual(reopened.listTopics(), ['audit']);
    assert.ok(!existsSync(path.join(dir, 'payments-0')), 'partition directories removed');
    await assert.rejects(reopened.describeTopic('payments'), TopicNotFoundError);
    await reopened.close();
    const third = tracked(await openBroker({ dir }));
    assert.deepEqual(third.listTopics(), ['audit']);
    await third.close();
  });

  it('topics - errors are typed and say what to do', async () => {
    const dir = freshDirectory();
    const broker = tracked(await openBroker({ dir, autoCreateTopics: false }));
    await assert.rejects(broker.createTopic('bad name!'), ConfigurationError);
    await assert.rejects(broker.createTopic('zero', { partitions: 0 }), ConfigurationError);
    await assert.rejects(broker.publish('missing', messages(1, 'm')), (error: unknown) => {
      assert.ok(error instanceof TopicNotFoundError);
      assert.equal(error.reason, 'BROKER_TOPIC_NOT_FOUND');
      assert.match(error.message, /createTopic|autoCreateTopics/);
      return true;
    });
    await assert.rejects(
      broker.subscribe({ topic: 'missing', group: 'g', inFlightMax: 1 }, async () => {}),
      TopicNotFoundError,
    );
    await broker.createTopic('orders', { partitions: 2 });
    await assert.rejects(broker.createTopic('orders'), TopicExistsError);
    const subscription = await broker.subscribe(
      { topic: 'orders', group: 'billing', inFlightMax: 1 },
      async () => {},
    );
    await assert.rejects(broker.deleteTopic('orders'), (error: unknown) => {
      assert.ok(error instanceof TopicInUseError);
      assert.match(error.message, /"billing"/);
      assert.match(error.message, /close those subscriptions first/);
      return true;
    });
    await subscription.close();
    await broker.deleteTopic('orders');
    await assert.rejects(broker.deleteTopic('orders'), TopicNotFoundError);
    await broker.close();
  });

  it('topics - a deleted topic starts empty when created again, with no old group position', async () => {
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir }));
    await transport.publish('cycle', messages(3, 'old'));
    const seen: string[] = [];
    const subscription = await transport.subscribe(
      { topic: 'cycle', group: 'g', inFlightMax: 3 },
      async (message) => {
        seen.push(message.headers['x-id']!);
        await message.ack();
      },
    );
    await eventually(
      () => seen.length === 3,
      () => 'the old messages',
    );
    await subscription.close();
    await transport.broker.deleteTopic('cycle');
    await transport.publish('cycle', messages(2, 'new'));
    const description = await transport.broker.describeGroup('cycle', 'g');
    assert.ok(description.partitions.every((partition) => partition.committed === 0n));
    assert.equal(
      description.partitions.reduce((sum, partition) => sum + partition.lag, 0n),
      2n,
    );
    await transport.close();
  });

  it('topics - open finishes a deletion interrupted after its commit point, leaving foreign directories', async () => {
    const dir = freshDirectory();
    const broker = tracked(await openBroker({ dir, partitions: 2 }));
    await broker.publish(
      'doomed',
      messages(4, 'd', (index) => `k${index}`),
    );
    await broker.close();
    // A crash right after deleteTopic removed the metadata file (its commit point).
    rmSync(path.join(dir, 'topics', 'doomed.json'));
    mkdirSync(path.join(dir, 'notes-1'));
    writeFileSync(path.join(dir, 'notes-1', 'readme.txt'), 'not a partition');
    const reopened = tracked(await openBroker({ dir }));
    assert.deepEqual(reopened.listTopics(), []);
    assert.ok(!existsSync(path.join(dir, 'doomed-0')) && !existsSync(path.join(dir, 'doomed-1')));
    assert.ok(existsSync(path.join(dir, 'notes-1', 'readme.txt')), 'a foreign directory was removed');
    await reopened.close();
  });

  it('broker - a second broker on a locked directory fails with DirectoryLockedError naming the holder', async () => {
    const dir = freshDirectory();
    const first = tracked(await embeddedTransport({ dir }));
    await assert.rejects(embeddedTransport({ dir }), (error: unknown) => {
      assert.ok(error instanceof DirectoryLockedError, `got ${String(error)}`);
      assert.equal(error.reason, 'BROKER_LOCKED');
      assert.equal(error.code, 'HERALD_TRANSPORT');
      assert.equal(error.dir, dir);
      assert.equal(error.pid, process.pid, 'carries the holding pid');
      assert.match(error.message, new RegExp(`${process.pid}`), 'names the holding process');
      return true;
    });
    await first.close();
    await first.close();
    const second = tracked(await embeddedTransport({ dir }));
    await second.close();
  });

  it('broker - the data directory defaults to HERALD_DATA_DIR', async () => {
    const dir = freshDirectory();
    const previous = process.env.HERALD_DATA_DIR;
    process.env.HERALD_DATA_DIR = dir;
    try {
      const transport = tracked(await embeddedTransport());
      assert.equal(transport.broker.directory, dir);
      await transport.close();
    } finally {
      if (previous === undefined) delete process.env.HERALD_DATA_DIR;
      else process.env.HERALD_DATA_DIR = previous;
    }
  });
});
