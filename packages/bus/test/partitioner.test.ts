import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { murmur2, partitionForKey } from '@herald/bus/internal';

const encoder = new TextEncoder();

// Kafka's own vectors, pinned where the partitioner lives; the broker and transports reuse it.
describe('partitioner (shared)', { timeout: 120_000 }, () => {
  it('partitioner - murmur2 matches the vectors of Kafka UtilsTest.testMurmur2', () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [input, expected] of vectors) assert.equal(murmur2(encoder.encode(input)), expected, input);
  });

  it("partitioner - keys land where Kafka's Java client puts them, strings as their UTF-8 bytes", () => {
    const expected: [string, number][] = [
      ['', 681],
      ['a', 524],
      ['ab', 434],
      ['abc', 107],
      ['123456789', 566],
    ];
    for (const [key, partition] of expected) {
      assert.equal(partitionForKey(key, 1000), partition, key);
      assert.equal(partitionForKey(encoder.encode(key), 1000), partition, key);
    }
    assert.equal(partitionForKey(new Uint8Array([0x00, 0x20]), 1000), 742);
    for (const key of ['naïve', '日本']) {
      assert.equal(partitionForKey(key, 7), partitionForKey(encoder.encode(key), 7), key);
    }
  });
});
