import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReceivedMessage } from '@herald/bus';
import { encodeRecordBatch } from '@herald/log';
import { eventually } from '@herald/test-support';
import { ConsumerGroup } from '../src/consumer-group.ts';
import { BODY_VIEW_BATCH_BYTES_MAX, ReadEntries } from '../src/group-entry.ts';
import type { PartitionLog } from '../src/partition-log.ts';
import { storedRead, type TestRecord } from './support/stored-read.ts';

/**
 * An in-memory partition that stores records in batches and, like `@herald/log`, answers a read
 * with whole batches from the one holding the offset, up to `bytesMax` (at least one batch). It
 * counts the records it decodes, which is the cost the read-ahead buffer exists to bound.
 */
function batchedLog(batches: readonly TestRecord[][], recordBytes: number) {
  const counts = { reads: 0, decoded: 0 };
  const highWatermark = BigInt(batches.reduce((sum, batch) => sum + batch.length, 0));
  const log: PartitionLog = {
    highWatermark,
    logStartOffset: 0n,
    appendTo: (_records, waiter) => waiter.failed(new Error('read-only')),
    read: async (offset, bytesMax) => {
      counts.reads += 1;
      const read: TestRecord[][] = [];
      let bytes = 0;
      for (const batch of batches) {
        if (batch.at(-1)!.offset < offset) continue;
        if (read.length > 0 && bytes + batch.length * recordBytes > bytesMax) break;
        counts.decoded += batch.length; // a batch is decoded whole
        read.push(batch);
        bytes += batch.length * recordBytes;
      }
      return storedRead(read, highWatermark);
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
      Array.from({ length: batchSize }, (_, index): TestRecord => {
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

  it('read-ahead - a read becomes entries straight from its batches: from the offset asked, text key and headers, the body a copy', () => {
    const record = (offset: bigint, key: string | null, body: string): TestRecord => ({
      offset,
      timestampMs: 3,
      key: key === null ? null : new TextEncoder().encode(key),
      value: new TextEncoder().encode(body),
      headers: [
        ['ce_type', new TextEncoder().encode('é.created')],
        ['empty', null],
      ],
    });
    const read = storedRead(
      [[record(10n, 'k', 'ten'), record(11n, null, 'eleven')], [record(12n, 'k', 'twelve')]],
      13n,
    );
    const entries = new ReadEntries(read, 2, 11n);
    const taken = [entries.next(), entries.next()];
    assert.equal(entries.next(), undefined);
    assert.deepEqual(
      // The record's fields; the rest is the window's bookkeeping (the entry is its own window entry).
      taken.map((entry) => ({
        partition: entry!.partition,
        offset: entry!.offset,
        key: entry!.key,
        headers: entry!.headers,
        body: Buffer.from(entry!.body).toString(),
        timestampMs: entry!.timestampMs,
        sizeBytes: entry!.sizeBytes,
        attempt: entry!.attempt,
        visibleAtMs: entry!.visibleAtMs,
        isItsOwnValue: entry!.value === entry,
      })),
      [
        {
          partition: 2,
          offset: 11n,
          key: undefined,
          headers: { ce_type: 'é.created', empty: '' },
          body: 'eleven',
          timestampMs: 3,
          sizeBytes: 6 + 7 + 10 + 5,
          attempt: 1,
          visibleAtMs: 0,
          isItsOwnValue: true,
        },
        {
          partition: 2,
          offset: 12n,
          key: 'k',
          headers: { ce_type: 'é.created', empty: '' },
          body: 'twelve',
          timestampMs: 3,
          sizeBytes: 6 + 1 + 7 + 10 + 5,
          attempt: 1,
          visibleAtMs: 0,
          isItsOwnValue: true,
        },
      ],
    );
    // A copy: the read's buffer (up to fetchBytesMax) is not kept alive by a delivered body.
    read.batches.fill(0);
    assert.equal(Buffer.from(taken[1]!.body).toString(), 'twelve');
  });
  it('read-ahead - the bodies of an uncompressed batch are views of one copy of that batch, a pool slice when small: unchanged by later reads, the read buffer not kept', () => {
    const record = (offset: bigint, body: string): TestRecord => ({
      offset,
      timestampMs: 3,
      key: null,
      value: new TextEncoder().encode(body),
      headers: [],
    });
    const first = [record(0n, 'zero'), record(1n, 'one')];
    const second = [record(2n, 'two')];
    const read = storedRead([first, second], 3n);
    const entries = new ReadEntries(read, 0, 0n);
    const taken = [entries.next()!, entries.next()!, entries.next()!];
    // The read buffer is reused (or overwritten) after the read: the bodies are not in it.
    read.batches.fill(0);
    assert.deepEqual(
      taken.map((entry) => Buffer.from(entry.body).toString()),
      ['zero', 'one', 'two'],
    );
    // Not views of the read buffer (both may be slices of one pool slab: compare the ranges).
    for (const entry of taken) {
      const inRead =
        entry.body.buffer === read.batches.buffer &&
        entry.body.byteOffset < read.batches.byteOffset + read.batches.byteLength &&
        entry.body.byteOffset + entry.body.byteLength > read.batches.byteOffset;
      assert.ok(!inRead, 'a body is not a view of the read buffer');
    }
    // One copy per batch: the two bodies of the first batch are views of one copy.
    assert.equal(taken[0]!.body.buffer, taken[1]!.body.buffer);
    // A small batch's copy is a slice of Node's shared pool slab, not an ArrayBuffer of its own
    // per batch (a caught-up group copies one batch per message): a held body keeps at most one
    // slab alive, as a body copied on its own does.
    for (const entry of taken) assert.equal(entry.body.buffer.byteLength, Buffer.poolSize);
    assert.ok(Buffer.isBuffer(taken[0]!.body), 'a Buffer, as before');
  });

  it('read-ahead - a batch over BODY_VIEW_BATCH_BYTES_MAX copies each body: a held body does not keep the large batch alive', () => {
    const small = new TextEncoder().encode('small');
    const large = new Uint8Array(BODY_VIEW_BATCH_BYTES_MAX).fill(7);
    const records: TestRecord[] = [
      { offset: 0n, timestampMs: 3, key: null, value: small, headers: [] },
      { offset: 1n, timestampMs: 3, key: null, value: large, headers: [] },
    ];
    const read = storedRead([records], 2n);
    assert.ok(read.batches.byteLength > BODY_VIEW_BATCH_BYTES_MAX, 'the batch is over the bound');
    const entries = new ReadEntries(read, 0, 0n);
    const taken = [entries.next()!, entries.next()!];
    read.batches.fill(0);
    assert.equal(Buffer.from(taken[0]!.body).toString(), 'small');
    // A copy of its own: at most a pool slab, never the batch over the bound.
    assert.ok(
      taken[0]!.body.buffer.byteLength <= Buffer.poolSize,
      `the small body keeps ${taken[0]!.body.buffer.byteLength} bytes alive`,
    );
    assert.notEqual(taken[0]!.body.buffer, taken[1]!.body.buffer);
    assert.equal(taken[1]!.body.byteLength, BODY_VIEW_BATCH_BYTES_MAX);
  });

  it('read-ahead - a compressed batch is decoded from its decompressed bytes, each body a copy: unchanged when the read buffer is overwritten', () => {
    const records = ['zero', 'one'].map((body, index) => ({
      offset: BigInt(index),
      timestampMs: 3,
      key: null,
      value: new TextEncoder().encode(body),
      headers: [],
    }));
    const batches = encodeRecordBatch(records, { baseOffset: 0n, compression: 'gzip' });
    const read = { batches, batchCount: 1, nextOffset: 2n, highWatermark: 2n, logStartOffset: 0n };
    const entries = new ReadEntries(read, 0, 0n);
    const taken = [entries.next()!, entries.next()!];
    assert.equal(entries.next(), undefined);
    read.batches.fill(0);
    assert.deepEqual(
      taken.map((entry) => Buffer.from(entry.body).toString()),
      ['zero', 'one'],
    );
  });

  it('read-ahead - records without headers share one frozen empty headers object', () => {
    const record = (offset: bigint): TestRecord => ({
      offset,
      timestampMs: 3,
      key: null,
      value: new TextEncoder().encode('body'),
      headers: [],
    });
    const entries = new ReadEntries(storedRead([[record(0n), record(1n)]], 2n), 0, 0n);
    const first = entries.next()!;
    const second = entries.next()!;
    assert.deepEqual(first.headers, {});
    assert.equal(first.headers, second.headers);
    assert.ok(
      Object.isFrozen(first.headers),
      'a handler writing to it gets a TypeError, not a change to others',
    );
    assert.throws(() => {
      (first.headers as Record<string, string>).x = 'y';
    }, TypeError);
  });

  it('read-ahead - header values repeated at their place or equal to the key are reused, any other value is decoded', () => {
    const bytes = (value: string | number[]) =>
      typeof value === 'string' ? new TextEncoder().encode(value) : Uint8Array.from(value);
    // Each row: key, then the values at header places 0, 1 and 2 (bytes where not plain text).
    const rows: [string, string | number[], string | number[], string | number[]][] = [
      ['k-1', 'abc', 'k-1', 'id-1'],
      ['k-2', 'abc', 'k-2', 'id-1'],
      ['k-3', 'abd', 'id-3', 'id-3'],
      ['k-4', 'xbd', 'abd', 'k-4'],
      ['k-5', 'éb', 'k-55', [0x61, 0x80, 0x63]],
      ['k-6', 'ab', 'k-6', [0x61, 0x81, 0x63]],
      ['k-7', [0x61, 0xc3], 'k-7 ', 'a\uFFFDc'],
      ['k-8', 'aé', 'k-8', 'abc'],
      ['k'.repeat(70), 'k'.repeat(70), 'k'.repeat(65), 'abc'],
      ['k'.repeat(65), 'k'.repeat(70), 'k'.repeat(65), 'k-8'],
    ];
    const read = storedRead(
      [
        rows.map(([key, ...values], index) => ({
          offset: BigInt(index),
          timestampMs: 1,
          key: bytes(key),
          value: bytes('{}'),
          headers: values.map((value, place) => [`h${place}`, bytes(value)] as const),
        })),
      ],
      BigInt(rows.length),
    );
    const entries = new ReadEntries(read, 0, 0n);
    const decode = (value: string | number[]) => Buffer.from(bytes(value)).toString();
    for (const [key, ...values] of rows) {
      const entry = entries.next()!;
      assert.equal(entry.key, key);
      assert.deepEqual(entry.headers, {
        h0: decode(values[0]),
        h1: decode(values[1]),
        h2: decode(values[2]),
      });
    }
    assert.equal(entries.next(), undefined);
  });
});
