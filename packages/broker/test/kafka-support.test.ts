/** The additive methods the Kafka-protocol server uses: raw batches, offsets, commits, append wake-ups. */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { encodeRecordBatch, nodeFileSystem } from '@herald/log';
import { writeChecked } from '../src/atomic-file.ts';
import { type CommittedOffset, openBroker } from '../src/index.ts';
import { freshDirectory, tracked } from './support.ts';

const encoder = new TextEncoder();

function batch(count: number, timestampMs = Date.now()): Uint8Array {
  const records = Array.from({ length: count }, (_, index) => ({
    key: null,
    value: encoder.encode(`v${index}`),
    headers: [],
    timestampMs: timestampMs + index,
  }));
  return encodeRecordBatch(records, { timestampMs });
}

test('broker kafka support - appendBatch stores raw batches, readBatches returns them with offsets rewritten', {
  timeout: 60_000,
}, async () => {
  const dir = freshDirectory();
  const broker = tracked(await openBroker({ dir, partitions: 2, leaderEpoch: -1 }));
  try {
    await broker.createTopic('raw');
    let woken = 0;
    const unsubscribe = broker.onPartitionAppend('raw', 1, () => woken++);
    assert.deepEqual(await broker.appendBatch('raw', 1, batch(3)), { baseOffset: 0n, lastOffset: 2n });
    assert.deepEqual(await broker.appendBatch('raw', 1, batch(2)), { baseOffset: 3n, lastOffset: 4n });
    unsubscribe();
    assert.ok(woken >= 1, 'append listener called');
    const read = await broker.readBatches('raw', 1, 4n, 1024 * 1024);
    assert.equal(read.batchCount, 1);
    assert.equal(Buffer.from(read.batches).readBigInt64BE(0), 3n);
    assert.equal(Buffer.from(read.batches).readInt32BE(12), -1, 'leader epoch rewritten');
    assert.deepEqual(await broker.partitionOffsets('raw', 1), { logStartOffset: 0n, highWatermark: 5n });
    const corrupt = batch(1);
    corrupt[corrupt.length - 1]! ^= 0xff;
    await assert.rejects(broker.appendBatch('raw', 0, corrupt), /crc|CRC|invalid/i);
    assert.deepEqual(await broker.partitionOffsets('raw', 0), { logStartOffset: 0n, highWatermark: 0n });
    await assert.rejects(broker.appendBatch('raw', 2, batch(1)), /partitions 0 to 1/);
  } finally {
    await broker.close();
  }
});

test('broker kafka support - offsetForTimestamp finds the first record at or after a time', {
  timeout: 60_000,
}, async () => {
  const broker = tracked(await openBroker({ dir: freshDirectory(), partitions: 1 }));
  try {
    await broker.createTopic('times');
    await broker.appendBatch('times', 0, batch(2, 1_000));
    await broker.appendBatch('times', 0, batch(2, 5_000));
    assert.equal(await broker.offsetForTimestamp('times', 0, 1_001), 1n);
    assert.equal(await broker.offsetForTimestamp('times', 0, 4_000), 2n);
    assert.equal(await broker.offsetForTimestamp('times', 0, 9_000), undefined);
  } finally {
    await broker.close();
  }
});

test('broker kafka support - committed offsets merge, survive a restart and vanish with the topic', {
  timeout: 60_000,
}, async () => {
  const dir = freshDirectory();
  let broker = tracked(await openBroker({ dir, partitions: 3 }));
  await broker.createTopic('commits');
  await broker.commitOffsets('commits', 'g1', new Map([[0, 5n]]));
  await Promise.all([
    broker.commitOffsets('commits', 'g1', new Map([[1, 7n]])),
    broker.commitOffsets('commits', 'g1', new Map([[0, 6n]])),
  ]);
  assert.deepEqual(await broker.committedTopics('g1'), ['commits']);
  assert.deepEqual(await broker.committedTopics('g2'), []);
  assert.deepEqual(await broker.committedGroups(), ['g1']);
  await broker.close();
  broker = tracked(await openBroker({ dir, partitions: 3 }));
  try {
    assert.deepEqual(
      await broker.committedOffsets('commits', 'g1'),
      new Map([
        [0, 6n],
        [1, 7n],
      ]),
    );
    await assert.rejects(broker.commitOffsets('commits', 'g1', new Map([[3, 1n]])), /no partition 3/);
    // Read from the journal after a restart; a stray file where older brokers kept commits is
    // not a group (a data directory of the old layout migrates only files it could have written).
    await mkdir(path.join(dir, 'groups', 'commits'), { recursive: true });
    await writeFile(path.join(dir, 'groups', 'commits', 'not a group.commits'), '{}');
    await broker.close();
    broker = tracked(await openBroker({ dir, partitions: 3 }));
    await broker.createTopic('other');
    await broker.commitOffsets('other', 'g0', new Map([[0, 1n]]));
    assert.deepEqual(await broker.committedGroups(), ['g0', 'g1']);
    await broker.deleteTopic('commits');
    assert.deepEqual(await broker.committedGroups(), ['g0']);
    await broker.createTopic('commits');
    assert.deepEqual(await broker.committedOffsets('commits', 'g1'), new Map());
  } finally {
    await broker.close();
  }
});

test('broker kafka support - commits keep metadata and negative offsets across a restart; older files read back null metadata', async () => {
  const dir = freshDirectory();
  let broker = await openBroker({ dir, partitions: 3 });
  await broker.createTopic('annotated');
  // A commits file as brokers before metadata wrote it.
  await mkdir(path.join(dir, 'groups', 'annotated'), { recursive: true });
  await writeChecked(
    nodeFileSystem,
    path.join(dir, 'groups', 'annotated', 'old.commits'),
    { format: 1, topic: 'annotated', group: 'old', offsets: { 0: '4' } },
    true,
  );
  await broker.commitOffsets(
    'annotated',
    'g1',
    new Map<number, bigint | CommittedOffset>([
      [0, { offset: 5n, metadata: 'Hello world!' }],
      [1, -2n],
      [2, { offset: -1n, metadata: '' }],
    ]),
  );
  await assert.rejects(
    broker.commitOffsets(
      'annotated',
      'g1',
      new Map([[0, { offset: 6n, metadata: 'x'.repeat(2 * 1024 * 1024) }]]),
    ),
    /metadata of partition 0/,
  );
  await assert.rejects(broker.commitOffsets('annotated', 'g1', new Map([[0, 2n ** 63n]])), /64-bit/);
  // One group's commits on one topic are bounded (32 MiB stored), so journal records are too.
  await broker.createTopic('wide', { partitions: 40 });
  const megabyte = 'm'.repeat(1024 * 1024);
  const wide = new Map(
    Array.from({ length: 40 }, (_, partition) => [partition, { offset: 1n, metadata: megabyte }]),
  );
  await assert.rejects(broker.commitOffsets('wide', 'g1', wide), /over the 33554432-byte bound/);
  assert.deepEqual(
    await broker.committedOffsets('wide', 'g1'),
    new Map(),
    'nothing of the refused commit is stored',
  );
  await broker.close();
  broker = await openBroker({ dir, partitions: 3 });
  try {
    assert.deepEqual(
      await broker.committedOffsetsWithMetadata('annotated', 'g1'),
      new Map([
        [0, { offset: 5n, metadata: 'Hello world!' }],
        [1, { offset: -2n, metadata: null }],
        [2, { offset: -1n, metadata: '' }],
      ]),
    );
    assert.deepEqual(
      await broker.committedOffsets('annotated', 'g1'),
      new Map([
        [0, 5n],
        [1, -2n],
        [2, -1n],
      ]),
    );
    assert.deepEqual(
      await broker.committedOffsetsWithMetadata('annotated', 'old'),
      new Map([[0, { offset: 4n, metadata: null }]]),
    );
    // A later commit without metadata replaces the earlier metadata.
    await broker.commitOffsets('annotated', 'g1', new Map([[0, 7n]]));
    assert.deepEqual((await broker.committedOffsetsWithMetadata('annotated', 'g1')).get(0), {
      offset: 7n,
      metadata: null,
    });
  } finally {
    await broker.close();
  }
});
