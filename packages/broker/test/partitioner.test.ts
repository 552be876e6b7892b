import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { murmur2, partitionForKey } from '@herald/broker';
import * as shared from '@herald/bus/internal';

// The Kafka vectors are pinned where the partitioner lives (packages/bus/test/partitioner.test.ts);
// here it is enough that the broker partitions with that same code.
describe('partitioner', { timeout: 120_000 }, () => {
  it('partitioner - the broker re-exports the shared Kafka murmur2 partitioner', () => {
    assert.equal(murmur2, shared.murmur2);
    assert.equal(partitionForKey, shared.partitionForKey);
    assert.equal(partitionForKey('foobar', 50), 16); // (murmur2("foobar") & 0x7fffffff) % 50
  });
});
