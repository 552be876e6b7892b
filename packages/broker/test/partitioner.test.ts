import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { murmur2, partitionForKey } from '@herald/broker';

const encoder = new TextEncoder();

describe('partitioner', () => {
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

  it("partitioner - keys land where Kafka's Java client puts them (1000 partitions)", () => {
    // Values produced by the Java client's partitioner, as recorded in kafka-python's compatibility test.
    const expected: [Uint8Array, number][] = [
      [encoder.encode(''), 681],
      [encoder.encode('a'), 524],
      [encoder.encode('ab'), 434],
      [encoder.encode('abc'), 107],
      [encoder.encode('123456789'), 566],
      [new Uint8Array([0x00, 0x20]), 742],
    ];
    for (const [key, partition] of expected) assert.equal(partitionForKey(key, 1000), partition, String(key));
    // (murmur2("foobar") & 0x7fffffff) % 50 = 1357151166 % 50.
    assert.equal(partitionForKey('foobar', 50), 16);
  });

  it('partitioner - a string key and its UTF-8 bytes choose the same partition', () => {
    for (const key of ['order-1', 'naïve', '日本', '']) {
      assert.equal(partitionForKey(key, 7), partitionForKey(encoder.encode(key), 7));
      assert.ok(partitionForKey(key, 7) >= 0 && partitionForKey(key, 7) < 7);
    }
  });
});
