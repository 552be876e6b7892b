/** Broker.deleteCommittedOffsets (Kafka's OffsetDelete and DeleteGroups): some partitions, then all. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBroker } from '../src/index.ts';
import { freshDirectory } from './support.ts';

test('broker kafka support - deleteCommittedOffsets forgets partitions, then the group, durably', async () => {
  const dir = freshDirectory();
  let broker = await openBroker({ dir, partitions: 3, leaderEpoch: -1 });
  try {
    await broker.createTopic('orders');
    await broker.commitOffsets(
      'orders',
      'billing',
      new Map([
        [0, 5n],
        [1, 7n],
        [2, 9n],
      ]),
    );
    await broker.deleteCommittedOffsets('orders', 'billing', [1]);
    assert.deepEqual(
      [...(await broker.committedOffsets('orders', 'billing'))],
      [
        [0, 5n],
        [2, 9n],
      ],
    );
    await broker.close();
    broker = await openBroker({ dir, partitions: 3, leaderEpoch: -1 });
    assert.deepEqual(
      [...(await broker.committedOffsets('orders', 'billing'))],
      [
        [0, 5n],
        [2, 9n],
      ],
      'the deletion survives a restart',
    );
    await broker.deleteCommittedOffsets('orders', 'billing');
    assert.equal((await broker.committedOffsets('orders', 'billing')).size, 0);
    assert.deepEqual(await broker.committedGroups(), [], 'a group with no offsets left is not listed');
    assert.deepEqual(await broker.committedTopics('billing'), []);
    await broker.close();
    broker = await openBroker({ dir, partitions: 3, leaderEpoch: -1 });
    assert.deepEqual(await broker.committedGroups(), [], 'nor after a restart (its file is gone)');
    await assert.rejects(broker.deleteCommittedOffsets('missing', 'billing'), /missing/);
  } finally {
    await broker.close();
  }
});
