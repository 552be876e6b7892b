import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openBroker } from '@herald/broker';
import { partitionForKey } from '@herald/bus/internal';
import { freshDirectory } from './support.ts';

// The Kafka vectors are pinned where the partitioner lives (packages/bus/test/partitioner.test.ts);
// here it is enough that the broker places keyed messages with that same code.
describe('partitioner', { timeout: 120_000 }, () => {
  it('partitioner - the broker puts a keyed message on the shared Kafka murmur2 partition', async () => {
    const broker = await openBroker({ dir: freshDirectory(), partitions: 50, fsync: 'never' });
    try {
      await broker.createTopic('placed', { partitions: 50 });
      await broker.publish('placed', [{ key: 'foobar', body: new TextEncoder().encode('x'), headers: {} }]);
      const { partitions } = await broker.describeTopic('placed');
      const used = partitions.filter((partition) => partition.highWatermark > 0n).map((p) => p.partition);
      assert.deepEqual(used, [partitionForKey('foobar', 50)]);
      assert.equal(partitionForKey('foobar', 50), 16); // (murmur2("foobar") & 0x7fffffff) % 50
    } finally {
      await broker.close();
    }
  });
});
