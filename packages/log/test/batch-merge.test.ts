import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ownedTemporaryDirectory } from '@herald/test-support';
import { MERGED_BATCH_BYTES_MAX } from '../src/batch-merge.ts';
import {
  decodeRecordBatchHeader,
  decodeRecordBatchRecords,
  encodeRecordBatch,
  type LogRecord,
  openPartition,
  type Partition,
  type RecordInput,
  recordBatchSize,
  utf8,
  verifyRecordBatch,
} from '../src/index.ts';

/** Every stored batch of `partition` from offset 0, each checked (CRC included) and decoded. */
async function storedBatches(partition: Partition): Promise<{ bytes: Buffer; records: LogRecord[] }[]> {
  const batches: { bytes: Buffer; records: LogRecord[] }[] = [];
  let offset = partition.logStartOffset;
  // Each read returns at least one batch, so this ends within highWatermark reads.
  for (let reads = 0; offset < partition.highWatermark && reads < 10_000; reads++) {
    const result = await partition.read(offset, 1 << 20);
    let at = 0;
    for (let index = 0; index < result.batchCount; index++) {
      const size = recordBatchSize(result.batches, at);
      const bytes = Buffer.from(result.batches.subarray(at, at + size));
      verifyRecordBatch(bytes);
      batches.push({ bytes, records: decodeRecordBatchRecords(bytes, 0) });
      at += size;
    }
    offset = result.nextOffset;
  }
  return batches;
}

function summary(record: LogRecord): unknown[] {
  return [
    record.offset,
    record.timestampMs,
    record.key === null ? null : Buffer.from(record.key).toString(),
    record.value === null ? null : Buffer.from(record.value).toString(),
    record.headers.map(([key, value]) => [key, value === null ? null : Buffer.from(value).toString()]),
  ];
}

describe('appends merged into stored batches', { timeout: 60_000 }, () => {
  test('the appends of one write group are stored as one batch, each record as appended, before and after a reopen', async () => {
    await using temporary = await ownedTemporaryDirectory();
    let partition = await openPartition({ directory: temporary.directory });
    try {
      // Appended in one synchronous burst: the writer takes them as one group.
      const appends: RecordInput[][] = [
        [{ key: utf8('k0'), value: utf8('zero'), timestampMs: 1_000_000, headers: [['h', utf8('a')]] }],
        [
          { key: null, value: utf8('one'), timestampMs: 999_000 }, // earlier than the batch's base
          { value: null, timestampMs: 1_500_000, headers: { name: 'value' } },
        ],
        [{ value: utf8('three'), timestampMs: 1_200_000 }],
      ];
      const results = await Promise.all(appends.map((records) => partition.append(records)));
      assert.deepEqual(results, [
        { baseOffset: 0n, lastOffset: 0n },
        { baseOffset: 1n, lastOffset: 2n },
        { baseOffset: 3n, lastOffset: 3n },
      ]);
      const expected = [
        [0n, 1_000_000, 'k0', 'zero', [['h', 'a']]],
        [1n, 999_000, null, 'one', []],
        [2n, 1_500_000, null, null, [['name', 'value']]],
        [3n, 1_200_000, null, 'three', []],
      ];
      for (let round = 0; round < 2; round++) {
        const batches = await storedBatches(partition);
        assert.equal(batches.length, 1, 'one stored batch for the group');
        const header = decodeRecordBatchHeader(batches[0]!.bytes);
        assert.equal(header.recordsCount, 4);
        assert.equal(header.lastOffsetDelta, 3);
        assert.equal(header.baseTimestampMs, 1_000_000);
        assert.equal(header.timestampMsMax, 1_500_000);
        assert.equal(header.producerId, -1n);
        assert.deepEqual(batches[0]!.records.map(summary), expected);
        // A read from inside the batch drops the records before the offset.
        const { records } = await partition.readRecords(2n, 1 << 20);
        assert.deepEqual(records.map(summary), expected.slice(2));
        // Reopening validates the stored batch again (recovery reads every byte of a tail).
        await partition.close();
        partition = await openPartition({ directory: temporary.directory });
      }
    } finally {
      await partition.close();
    }
  });

  test("a client's batch is stored as it came, between merged runs of the log's own appends", async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    try {
      const client = encodeRecordBatch([{ value: utf8('client-0') }, { value: utf8('client-1') }], {
        producerId: 7n,
        producerEpoch: 1,
        baseSequence: 0,
      });
      await Promise.all([
        partition.append([{ value: utf8('a') }]),
        partition.append([{ value: utf8('b') }]),
        partition.appendBatch(client),
        partition.append([{ value: utf8('c') }]),
        partition.append([{ value: utf8('d') }]),
      ]);
      const batches = await storedBatches(partition);
      assert.deepEqual(
        batches.map((batch) => batch.records.map((record) => Buffer.from(record.value!).toString())),
        [
          ['a', 'b'],
          ['client-0', 'client-1'],
          ['c', 'd'],
        ],
      );
      // Beyond its base offset and leader epoch, the client's batch is byte for byte what it sent.
      const stored = batches[1]!.bytes;
      assert.deepEqual(stored.subarray(16), Buffer.from(client).subarray(16));
      assert.equal(decodeRecordBatchHeader(stored).producerId, 7n);
    } finally {
      await partition.close();
    }
  });

  test(`a merged batch holds at most ${MERGED_BATCH_BYTES_MAX} bytes`, async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    try {
      const appendCount = 40;
      await Promise.all(
        Array.from({ length: appendCount }, (_, index) =>
          partition.append([{ value: Buffer.alloc(4096, index) }]),
        ),
      );
      const batches = await storedBatches(partition);
      assert.ok(batches.length >= 3, `${batches.length} batches for ${appendCount} × 4 KiB`);
      for (const batch of batches) assert.ok(batch.bytes.length <= MERGED_BATCH_BYTES_MAX);
      const values = batches.flatMap((batch) => batch.records.map((record) => record.value![0]));
      assert.deepEqual(
        values,
        Array.from({ length: appendCount }, (_, index) => index),
      );
    } finally {
      await partition.close();
    }
  });

  test("a merged batch holds no more than the partition's batchBytesMax when that is lower", async () => {
    await using temporary = await ownedTemporaryDirectory();
    const batchBytesMax = 8 * 1024;
    const partition = await openPartition({ directory: temporary.directory, batchBytesMax });
    try {
      await Promise.all(
        Array.from({ length: 20 }, (_, index) => partition.append([{ value: Buffer.alloc(1024, index) }])),
      );
      const batches = await storedBatches(partition);
      assert.ok(batches.length >= 3, `${batches.length} batches for 20 × 1 KiB`);
      for (const batch of batches) assert.ok(batch.bytes.length <= batchBytesMax);
      assert.equal(batches.flatMap((batch) => batch.records).length, 20);
    } finally {
      await partition.close();
    }
  });

  test('appends whose timestamp deltas would leave the safe integers are not merged', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    try {
      const earliest = -Number.MAX_SAFE_INTEGER;
      const latest = Number.MAX_SAFE_INTEGER;
      await Promise.all([
        partition.append([{ value: utf8('early'), timestampMs: earliest }]),
        partition.append([{ value: utf8('late'), timestampMs: latest }]),
      ]);
      const batches = await storedBatches(partition);
      assert.equal(batches.length, 2);
      assert.deepEqual(
        batches.map((batch) => batch.records[0]!.timestampMs),
        [earliest, latest],
      );
    } finally {
      await partition.close();
    }
  });

  test('an append whose records would grow when merged (far-apart timestamps) is stored alone', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    try {
      // Each record's timestamp delta grows from 1 byte to 7 against the first append's base, 20
      // records × 6 bytes more than the 61 bytes of the header merging saves.
      const far = 2 ** 45;
      await Promise.all([
        partition.append([{ value: utf8('near'), timestampMs: 0 }]),
        partition.append(Array.from({ length: 20 }, () => ({ value: utf8('far'), timestampMs: far }))),
      ]);
      const batches = await storedBatches(partition);
      assert.deepEqual(
        batches.map((batch) => batch.records.length),
        [1, 20],
      );
      assert.equal(batches[1]!.records[19]!.timestampMs, far);
    } finally {
      await partition.close();
    }
  });
});
