import assert from 'node:assert/strict';
import { it } from 'node:test';
import { partitionForKey } from '@herald/broker';
import { shardForKey } from '../src/murmur2.ts';

it('murmur2 - a key picks the same shard as the embedded broker and Kafka clients pick a partition', () => {
  for (let index = 0; index < 2_000; index++) {
    const key = `key-${index}-${'é'.repeat(index % 5)}`;
    for (const count of [1, 3, 4, 64]) {
      assert.equal(shardForKey(key, count), partitionForKey(key, count), `${key} over ${count}`);
    }
  }
});
