import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { eventually, ownedTemporaryDirectory } from '@herald/test-support';
import {
  decodeRecordBatchHeader,
  decodeRecordBatchRecords,
  encodeRecordBatch,
  type FileSystem,
  isLogError,
  nodeFileSystem,
  openLogStore,
  openPartition,
  recordBatchSize,
  utf8,
} from '../src/index.ts';
import { BATCH_FIELD } from '../src/record-batch.ts';
import { faultyFileSystem, valueFor } from './support/fixtures.ts';

function text(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes).toString('utf8');
}

describe('append and read', { timeout: 120_000 }, () => {
  test('appends get dense offsets and read back byte-identical', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    const first = await partition.append([
      { key: utf8('a'), value: utf8('one'), headers: [['trace', utf8('t1')]] },
      { key: null, value: null },
    ]);
    const second = await partition.append([{ value: utf8('three'), timestampMs: 1234 }]);
    assert.deepEqual(first, { baseOffset: 0n, lastOffset: 1n });
    assert.deepEqual(second, { baseOffset: 2n, lastOffset: 2n });
    assert.equal(partition.highWatermark, 3n);
    const { records, nextOffset, highWatermark, logStartOffset } = await partition.readRecords(0n, 1 << 20);
    assert.equal(nextOffset, 3n);
    assert.equal(highWatermark, 3n);
    assert.equal(logStartOffset, 0n);
    assert.deepEqual(
      records.map((record) => [record.offset, text(record.key), text(record.value)]),
      [
        [0n, 'a', 'one'],
        [1n, null, null],
        [2n, null, 'three'],
      ],
    );
    assert.equal(records[2]!.timestampMs, 1234);
    assert.deepEqual(
      records[0]!.headers.map(([key, value]) => [key, text(value)]),
      [['trace', 't1']],
    );
    await partition.close();
  });

  test('concurrent appends share fdatasyncs (group commit) and resolve in order', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const fileSystem = faultyFileSystem({});
    const partition = await openPartition({ directory: temporary.directory, fileSystem });
    const before = fileSystem.fdatasyncCalls;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, index) => partition.append([{ value: valueFor(index) }])),
    );
    assert.deepEqual(
      results.map((result) => result.baseOffset),
      Array.from({ length: 200 }, (_, index) => BigInt(index)),
    );
    assert.ok(
      fileSystem.fdatasyncCalls - before <= 3,
      `${fileSystem.fdatasyncCalls - before} syncs for 200 appends`,
    );
    await partition.close();
  });

  test('appendTo tells its waiter the offsets only after the fdatasync ended, and a refusal within the call', async () => {
    await using temporary = await ownedTemporaryDirectory();
    // Holds the first fdatasync after the open (the append's) until released.
    let hold = false;
    let releaseSync = (): void => {};
    let syncsHeld = 0;
    const fileSystem: FileSystem = {
      ...nodeFileSystem,
      fdatasync: async (fd) => {
        if (hold) {
          hold = false;
          syncsHeld += 1;
          await new Promise<void>((resolve) => {
            releaseSync = resolve;
          });
        }
        return nodeFileSystem.fdatasync(fd);
      },
    };
    const partition = await openPartition({ directory: temporary.directory, fileSystem });
    hold = true;
    try {
      const told: string[] = [];
      const waiter = {
        appended: (baseOffset: bigint, recordCount: number) => told.push(`${baseOffset}+${recordCount}`),
        failed: (error: unknown) => told.push(`failed ${isLogError(error) ? error.code : String(error)}`),
      };
      partition.appendTo([{ value: utf8('a') }, { value: utf8('b') }], waiter);
      await eventually(() => syncsHeld === 1, 'the fdatasync started');
      assert.deepEqual(told, [], 'nothing told while the fdatasync runs');
      releaseSync();
      await eventually(() => told.length === 1, 'the waiter was told');
      assert.deepEqual(told, ['0+2']);
      assert.equal(partition.highWatermark, 2n);
      partition.appendTo([], waiter);
      assert.deepEqual(told, ['0+2', 'failed LOG_INVALID_BATCH'], 'a refusal is told within the call');
    } finally {
      releaseSync();
      await partition.close();
    }
  });

  test('onAppend reports each new high watermark and can be unsubscribed', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    const seen: bigint[] = [];
    const unsubscribe = partition.onAppend((highWatermark) => seen.push(highWatermark));
    await partition.append([{ value: utf8('a') }, { value: utf8('b') }]);
    await partition.append([{ value: utf8('c') }]);
    unsubscribe();
    await partition.append([{ value: utf8('d') }]);
    assert.deepEqual(seen, [2n, 3n]);
    await partition.close();
  });

  test('read returns whole batches within bytesMax, at least one, from the batch holding the offset', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    for (let batch = 0; batch < 10; batch++) {
      await partition.append([{ value: valueFor(batch, 500) }, { value: valueFor(batch + 100, 500) }]);
    }
    const one = await partition.read(5n, 10);
    assert.equal(one.batchCount, 1);
    assert.equal(
      decodeRecordBatchHeader(one.batches).baseOffset,
      4n,
      'starts with the batch containing offset 5',
    );
    assert.equal(one.nextOffset, 6n);
    const batchBytes = recordBatchSize(one.batches);
    const three = await partition.read(4n, batchBytes * 3 + batchBytes - 1);
    assert.equal(three.batchCount, 3);
    assert.equal(three.batches.length, batchBytes * 3);
    assert.equal(three.nextOffset, 10n);
    const records = await partition.readRecords(5n, 10);
    assert.deepEqual(
      records.records.map((record) => record.offset),
      [5n],
    );
    const atEnd = await partition.read(20n, 1000);
    assert.equal(atEnd.batchCount, 0);
    assert.equal(atEnd.nextOffset, 20n);
    await assert.rejects(partition.read(21n, 1000), (error) => isLogError(error, 'LOG_OFFSET_OUT_OF_RANGE'));
    await assert.rejects(partition.read(-1n, 1000), (error) => isLogError(error, 'LOG_OFFSET_OUT_OF_RANGE'));
    await partition.close();
  });

  test('limits: record, batch and queue bounds reject with typed errors', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({
      directory: temporary.directory,
      recordBytesMax: 1000,
      batchBytesMax: 3000,
      appendQueueCountMax: 2,
    });
    await assert.rejects(partition.append([{ value: new Uint8Array(1001) }]), (error) =>
      isLogError(error, 'LOG_RECORD_TOO_LARGE'),
    );
    await assert.rejects(
      partition.append(Array.from({ length: 4 }, () => ({ value: new Uint8Array(900) }))),
      (error) => isLogError(error, 'LOG_BATCH_TOO_LARGE'),
    );
    await assert.rejects(partition.append([]), (error) => isLogError(error, 'LOG_INVALID_BATCH'));
    const accepted = [partition.append([{ value: utf8('1') }]), partition.append([{ value: utf8('2') }])];
    await assert.rejects(
      partition.append([{ value: utf8('3') }]),
      (error) => isLogError(error, 'LOG_QUEUE_FULL') && error.retriable,
    );
    await Promise.all(accepted);
    await partition.append([{ value: utf8('4') }]);
    assert.equal(partition.highWatermark, 3n);
    await partition.close();
  });

  test('close is idempotent, later calls fail with LOG_CLOSED, and reopening is clean', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    await partition.append([{ value: utf8('x') }]);
    const pending = partition.append([{ value: utf8('y') }]);
    const closing = partition.close();
    assert.equal(partition.close(), closing);
    await closing;
    assert.deepEqual(
      await pending,
      { baseOffset: 1n, lastOffset: 1n },
      'accepted appends finish before close',
    );
    await assert.rejects(partition.append([{ value: utf8('z') }]), (error) =>
      isLogError(error, 'LOG_CLOSED'),
    );
    await assert.rejects(partition.read(0n, 100), (error) => isLogError(error, 'LOG_CLOSED'));
    const reopened = await openPartition({ directory: temporary.directory });
    assert.equal(reopened.recoveryReport.checkpoint, 'clean');
    assert.equal(reopened.highWatermark, 2n);
    await reopened.close();
  });
});

describe('appendBatch', { timeout: 120_000 }, () => {
  test('stores a raw client batch with BaseOffset and leader epoch rewritten and the CRC untouched', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory, leaderEpoch: 7 });
    await partition.append([{ value: utf8('first') }]);
    const client = encodeRecordBatch([{ value: utf8('a') }, { value: utf8('b') }, { value: utf8('c') }], {
      baseOffset: 999n,
      producerId: 5n,
      producerEpoch: 1,
      baseSequence: 0,
    });
    const original = Buffer.from(client);
    assert.deepEqual(await partition.appendBatch(client), { baseOffset: 1n, lastOffset: 3n });
    assert.deepEqual(client, original, 'the caller buffer is not modified');
    const read = await partition.read(1n, 1 << 20);
    const stored = Buffer.from(read.batches.subarray(0, recordBatchSize(read.batches)));
    assert.equal(stored.readBigInt64BE(BATCH_FIELD.baseOffset), 1n);
    assert.equal(stored.readInt32BE(BATCH_FIELD.partitionLeaderEpoch), 7);
    assert.deepEqual(
      stored.subarray(BATCH_FIELD.magic),
      original.subarray(BATCH_FIELD.magic),
      'magic, CRC and body unchanged',
    );
    assert.deepEqual(
      decodeRecordBatchRecords(stored).map((record) => [record.offset, text(record.value)]),
      [
        [1n, 'a'],
        [2n, 'b'],
        [3n, 'c'],
      ],
    );
    await partition.close();
  });

  test('accepts compressed batches and rejects invalid ones', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    const compressed = encodeRecordBatch([{ value: utf8('zipped') }, { value: utf8('twice') }], {
      compression: 'zstd',
    });
    await partition.appendBatch(compressed);
    const { records } = await partition.readRecords(0n, 1 << 20);
    assert.deepEqual(
      records.map((record) => text(record.value)),
      ['zipped', 'twice'],
    );
    const badCrc = Buffer.from(encodeRecordBatch([{ value: utf8('x') }]));
    badCrc[badCrc.length - 1]! ^= 1;
    await assert.rejects(partition.appendBatch(badCrc), (error) => isLogError(error, 'LOG_INVALID_BATCH'));
    const twoBatches = Buffer.concat([
      encodeRecordBatch([{ value: utf8('x') }]),
      encodeRecordBatch([{ value: utf8('y') }]),
    ]);
    await assert.rejects(partition.appendBatch(twoBatches), (error) =>
      isLogError(error, 'LOG_INVALID_BATCH'),
    );
    await assert.rejects(partition.appendBatch(new Uint8Array(30)), (error) =>
      isLogError(error, 'LOG_INVALID_BATCH'),
    );
    const badMagic = Buffer.from(encodeRecordBatch([{ value: utf8('x') }]));
    badMagic[BATCH_FIELD.magic] = 1;
    await assert.rejects(partition.appendBatch(badMagic), (error) => isLogError(error, 'LOG_INVALID_BATCH'));
    assert.equal(partition.highWatermark, 2n, 'rejected batches take no offsets');
    await partition.close();
  });
});

describe('segments, retention and time lookups', { timeout: 120_000 }, () => {
  test('rolls by size into segments named by base offset and reads across them', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory, segmentBytesMax: 2048 });
    for (let index = 0; index < 60; index++) {
      await partition.append([{ value: valueFor(index, 200) }]);
    }
    const segments = partition.describeSegments();
    assert.ok(segments.length >= 6, `${segments.length} segments`);
    for (const segment of segments) {
      assert.ok(segment.sizeBytes <= 2048);
    }
    const files = await readdir(temporary.directory);
    assert.ok(files.includes('00000000000000000000.log'));
    assert.ok(files.includes(`${segments[1]!.baseOffset.toString().padStart(20, '0')}.log`));
    assert.ok(
      files.includes('00000000000000000000.index') && files.includes('00000000000000000000.timeindex'),
    );
    let offset = 0n;
    for (let reads = 0; offset < 60n && reads < 100; reads++) {
      const { records, nextOffset } = await partition.readRecords(offset, 1 << 20);
      for (const record of records) {
        assert.deepEqual(new Uint8Array(record.value!), valueFor(Number(record.offset), 200));
      }
      offset = nextOffset;
    }
    assert.equal(offset, 60n);
    await partition.close();
  });

  test('rolls by age', async () => {
    await using temporary = await ownedTemporaryDirectory();
    let nowMs = 1_000_000;
    const partition = await openPartition({
      directory: temporary.directory,
      segmentAgeMsMax: 1000,
      clock: () => nowMs,
    });
    await partition.append([{ value: utf8('a') }]);
    nowMs += 999;
    await partition.append([{ value: utf8('b') }]);
    assert.equal(partition.describeSegments().length, 1);
    nowMs += 2;
    await partition.append([{ value: utf8('c') }]);
    assert.deepEqual(
      partition.describeSegments().map((segment) => segment.baseOffset),
      [0n, 2n],
    );
    await partition.close();
  });

  test('retention by bytes deletes whole old segments, never the active one, and persists the log start', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const options = { directory: temporary.directory, segmentBytesMax: 1024, retentionBytes: 2048 };
    const partition = await openPartition(options);
    for (let index = 0; index < 50; index++) {
      await partition.append([{ value: valueFor(index, 150) }]);
    }
    await partition.enforceRetention();
    const segments = partition.describeSegments();
    const total = segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
    assert.ok(total - segments[0]!.sizeBytes < 2048, 'no further segment could go');
    const start = partition.logStartOffset;
    assert.ok(start > 0n);
    assert.equal(start, segments[0]!.baseOffset);
    await assert.rejects(partition.read(start - 1n, 100), (error) =>
      isLogError(error, 'LOG_OFFSET_OUT_OF_RANGE'),
    );
    assert.equal((await partition.readRecords(start, 100)).records[0]!.offset, start);
    await partition.close();
    const reopened = await openPartition(options);
    assert.equal(reopened.logStartOffset, start);
    await reopened.close();
  });

  test('retention by age uses the newest timestamp of each segment', async () => {
    await using temporary = await ownedTemporaryDirectory();
    let nowMs = 10_000_000;
    const partition = await openPartition({
      directory: temporary.directory,
      segmentBytesMax: 1024,
      retentionMs: 60_000,
      clock: () => nowMs,
    });
    for (let index = 0; index < 30; index++) {
      await partition.append([{ value: valueFor(index, 150) }]);
    }
    assert.equal(await partition.enforceRetention(), 0);
    nowMs += 60_001;
    await partition.append([{ value: utf8('fresh') }]);
    const closedSegments = partition.describeSegments().length - 1;
    assert.ok(closedSegments > 0);
    assert.equal(await partition.enforceRetention(), closedSegments);
    assert.equal(partition.describeSegments().length, 1, 'the active segment stays');
    assert.equal(partition.logStartOffset, partition.describeSegments()[0]!.baseOffset);
    await partition.close();
  });

  test('offsetForTimestamp finds the first record at or after a time, across segments', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({
      directory: temporary.directory,
      segmentBytesMax: 1024,
      indexIntervalBytes: 128,
    });
    for (let index = 0; index < 100; index++) {
      // Timestamps 1000, 1010, ... with a late straggler every 10th record.
      const timestampMs = index % 10 === 9 ? 500 : 1000 + index * 10;
      await partition.append([{ value: valueFor(index, 40), timestampMs }]);
    }
    assert.ok(partition.describeSegments().length > 3);
    assert.deepEqual(await partition.offsetForTimestamp(0), { offset: 0n, timestampMs: 1000 });
    assert.deepEqual(await partition.offsetForTimestamp(1500), { offset: 50n, timestampMs: 1500 });
    assert.deepEqual(await partition.offsetForTimestamp(1495), { offset: 50n, timestampMs: 1500 });
    assert.deepEqual(await partition.offsetForTimestamp(1975), { offset: 98n, timestampMs: 1980 });
    assert.equal(await partition.offsetForTimestamp(1990), undefined, 'only stragglers are older');
    assert.equal(await partition.offsetForTimestamp(5000), undefined);
    await partition.close();
    const reopened = await openPartition({
      directory: temporary.directory,
      segmentBytesMax: 1024,
      indexIntervalBytes: 128,
    });
    assert.deepEqual(await reopened.offsetForTimestamp(1500), { offset: 50n, timestampMs: 1500 });
    await reopened.close();
  });
});

describe('fsync policies', { timeout: 120_000 }, () => {
  test('{ intervalMs } acknowledges after the write and publishes after the periodic sync', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory, fsync: { intervalMs: 30 } });
    const woken: bigint[] = [];
    partition.onAppend((highWatermark) => woken.push(highWatermark));
    const result = await partition.append([{ value: utf8('a') }]);
    assert.equal(result.baseOffset, 0n);
    await eventually(() => partition.highWatermark === 1n, 'the periodic sync to publish the append', 5000);
    assert.deepEqual(woken, [1n]);
    await partition.close();
  });

  test("'never' publishes at once and syncs on close", async () => {
    await using temporary = await ownedTemporaryDirectory();
    const fileSystem = faultyFileSystem({});
    const partition = await openPartition({ directory: temporary.directory, fsync: 'never', fileSystem });
    const syncsBefore = fileSystem.fdatasyncCalls;
    await partition.append([{ value: utf8('a') }]);
    assert.equal(partition.highWatermark, 1n);
    assert.equal(fileSystem.fdatasyncCalls, syncsBefore);
    await partition.close();
    assert.ok(fileSystem.fdatasyncCalls > syncsBefore);
  });
});

describe('log store', { timeout: 120_000 }, () => {
  test('manages topic-partition directories under one lock', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const store = await openLogStore({
      directory: temporary.directory,
      partitionDefaults: { segmentBytesMax: 4096 },
    });
    const orders0 = await store.openPartition({ topic: 'orders', partition: 0 });
    assert.equal(await store.openPartition({ topic: 'orders', partition: 0 }), orders0);
    const payments1 = await store.openPartition({ topic: 'payments', partition: 1 });
    await orders0.append([{ value: utf8('o') }]);
    await payments1.append([{ value: utf8('p') }]);
    assert.deepEqual(await store.listPartitions(), [
      { topic: 'orders', partition: 0 },
      { topic: 'payments', partition: 1 },
    ]);
    await assert.rejects(openLogStore({ directory: temporary.directory }), (error) =>
      isLogError(error, 'LOG_LOCKED'),
    );
    assert.throws(
      () => store.getPartition({ topic: '../etc', partition: 0 }),
      (error) => isLogError(error, 'LOG_INVALID_ARGUMENT'),
    );
    await store.deletePartition({ topic: 'orders', partition: 0 });
    assert.deepEqual(await store.listPartitions(), [{ topic: 'payments', partition: 1 }]);
    await store.close();
    await store.close();
    const again = await openLogStore({ directory: temporary.directory });
    const reopened = await again.openPartition({ topic: 'payments', partition: 1 });
    assert.equal(reopened.highWatermark, 1n);
    await again.close();
  });
});
