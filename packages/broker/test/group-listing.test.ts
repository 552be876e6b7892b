import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { embeddedTransport, openBroker, TopicNotFoundError } from '@herald/broker';
import { eventually } from '@herald/test-support';
import { freshDirectory, messages, tracked } from './support.ts';

/** Publishes `count` messages to `topic` and acks them all in `group`, then closes. */
async function ackAll(dir: string, topic: string, group: string, count: number): Promise<void> {
  const transport = tracked(await embeddedTransport({ dir, partitions: 2 }));
  await transport.publish(topic, messages(count, topic));
  let acked = 0;
  await transport.subscribe({ topic, group, inFlightMax: 4 }, async (message) => {
    await message.ack();
    acked += 1;
  });
  await eventually(
    () => acked === count,
    () => `${count} acks (have ${acked})`,
  );
  await transport.close();
}

describe('group listing', { timeout: 120_000 }, () => {
  it('listGroups - lists acked and committed groups with their topics, after a restart too', async () => {
    const dir = freshDirectory();
    await ackAll(dir, 'orders', 'billing', 4);
    await ackAll(dir, 'payments', 'billing', 2);
    const broker = tracked(await openBroker({ dir, partitions: 2 }));
    await broker.commitOffsets('orders', 'audit', new Map([[0, 1n]]));
    await broker.commitOffsets('orders', 'billing', new Map([[1, 0n]]));
    assert.deepEqual(await broker.listGroups(), [
      { group: 'audit', kind: 'committed', topics: ['orders'], members: 0 },
      { group: 'billing', kind: 'acked', topics: ['orders', 'payments'], members: 0 },
      { group: 'billing', kind: 'committed', topics: ['orders'], members: 0 },
    ]);
    assert.deepEqual(await broker.ackedTopics('billing'), ['orders', 'payments']);
    assert.deepEqual(await broker.ackedTopics('audit'), []);
    assert.deepEqual(await broker.committedTopics('billing'), ['orders']);
  });

  it('listGroups - counts live members and lists a group before it stored a position', async () => {
    const dir = freshDirectory();
    const transport = tracked(await embeddedTransport({ dir, partitions: 1 }));
    await transport.broker.createTopic('jobs');
    await transport.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 1 }, async (message) => {
      await message.ack();
    });
    await transport.subscribe({ topic: 'jobs', group: 'workers', inFlightMax: 1 }, async (message) => {
      await message.ack();
    });
    assert.deepEqual(await transport.broker.listGroups(), [
      { group: 'workers', kind: 'acked', topics: ['jobs'], members: 2 },
    ]);
  });

  it('listGroups - forgets the groups of a deleted topic', async () => {
    const dir = freshDirectory();
    await ackAll(dir, 'old', 'reader', 3);
    const broker = tracked(await openBroker({ dir }));
    await broker.commitOffsets('old', 'kafka-reader', new Map([[0, 2n]]));
    assert.equal((await broker.listGroups()).length, 2);
    await broker.deleteTopic('old');
    assert.deepEqual(await broker.listGroups(), []);
    await assert.rejects(broker.describeStorage('old'), TopicNotFoundError);
  });

  it('describeStorage - reports the bytes and segments the log holds per partition', async () => {
    const dir = freshDirectory();
    const broker = tracked(await openBroker({ dir, partitions: 2, segmentBytesMax: 1024 }));
    await broker.createTopic('events');
    const empty = await broker.describeStorage('events');
    assert.deepEqual(empty, [
      { partition: 0, sizeBytes: 0, segmentCount: 1 },
      { partition: 1, sizeBytes: 0, segmentCount: 1 },
    ]);
    // One key, so every message goes to one partition; 400-byte messages roll 1 KiB segments.
    for (let round = 0; round < 8; round++) {
      await broker.publish('events', [{ key: 'same', headers: {}, body: new Uint8Array(400) }]);
    }
    const storage = await broker.describeStorage('events');
    const used = storage.find((entry) => entry.sizeBytes > 0)!;
    assert.ok(used.segmentCount > 1, `segments rolled (have ${used.segmentCount})`);
    const directory = path.join(dir, `events-${used.partition}`);
    const logBytes = readdirSync(directory)
      .filter((file) => file.endsWith('.log'))
      .reduce((sum, file) => sum + statSync(path.join(directory, file)).size, 0);
    assert.equal(used.sizeBytes, logBytes, 'the bytes of the .log files');
  });
});
