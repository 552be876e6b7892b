import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReceivedMessage } from '@herald/bus';
import { eventually } from '@herald/test-support';
import { ConsumerGroup } from '../src/consumer-group.ts';
import type { PartitionLog, StoredRecord } from '../src/partition-log.ts';

/**
 * An in-memory partition that stores records in batches and, like `@herald/log`, answers a read
 * with whole batches from the one holding the offset, up to `bytesMax` (at least one batch). It
 * counts the records it decodes, which is the cost the read-ahead buffer exists to bound.
 */
function batchedLog(batches: readonly StoredRecord[][], recordBytes: number) {
  const counts = { reads: 0, decoded: 0 };
  const highWatermark = BigInt(batches.reduce((sum, batch) => sum + batch.length, 0));
  const log: PartitionLog = {
    highWatermark,
    logStartOffset: 0n,
    append: () => Promise.reject(new Error('read-only')),
    readRecords: async (offset, bytesMax) => {
      counts.reads += 1;
      const records: StoredRecord[] = [];
      let bytes = 0;
      for (const batch of batches) {
        if (batch.at(-1)!.offset < offset) continue;
        if (records.length > 0 && bytes + batch.length * recordBytes > bytesMax) break;
        counts.decoded += batch.length; // a batch is decoded whole
        records.push(...batch.filter((record) => record.offset >= offset));
        bytes += batch.length * recordBytes;
      }
      return records;
    },
    offsetForTimestamp: async () => undefined,
    onAppend: () => () => {},
    close: async () => {},
  };
  return { log, counts };
}

describe('read-ahead', { timeout: 120_000 }, () => {
  it('read-ahead - records published in large batches are decoded once, not once per ack', async () => {
    const total = 5_000;
    const batchSize = 500;
    const recordBytes = 120;
    const batches = Array.from({ length: total / batchSize }, (_, batch) =>
      Array.from({ length: batchSize }, (_, index): StoredRecord => {
        const offset = BigInt(batch * batchSize + index);
        return { offset, timestampMs: 0, key: null, value: new Uint8Array(100), headers: [] };
      }),
    );
    const { log, counts } = batchedLog(batches, recordBytes);
    const group = new ConsumerGroup(
      { name: 'events', logs: [log] },
      'g',
      undefined,
      async () => {},
      {
        windowRecordsMax: 32,
        windowBytesMax: 8 * 1024 * 1024,
        // Four batches per read: far more than the window takes after each ack.
        fetchBytesMax: 4 * batchSize * recordBytes,
        visibilityTimeoutMs: 60_000,
      },
      (error) => assert.fail(String(error)),
    );
    const offsets: number[] = [];
    group.join(async (message: ReceivedMessage) => {
      offsets.push(Number(message.offset));
      await new Promise((resolve) => setImmediate(resolve));
      await message.ack();
    }, 8);
    await eventually(
      () => offsets.length === total,
      () => `${total} deliveries (have ${offsets.length})`,
    );
    await group.close();
    assert.deepEqual(
      offsets,
      Array.from({ length: total }, (_, index) => index),
      'each record delivered once, in order',
    );
    // Each read starts where the previous one ended, at a batch boundary: every record is decoded
    // exactly once. Re-reading on every ack decoded about a thousand times more.
    assert.equal(counts.decoded, total, `decoded ${counts.decoded} records in ${counts.reads} reads`);
    assert.equal(counts.reads, Math.ceil(total / batchSize / 4));
  });
});
