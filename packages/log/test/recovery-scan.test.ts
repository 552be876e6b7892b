/**
 * Recovery's validating scan over segments of several 1 MiB windows, where batches straddle window
 * ends and the CRCs of a window are computed together, on a checksum thread when one has room
 * (checksum-threads.ts): every batch is still checked and visited in order, and the first bad one
 * still decides between truncating a torn tail and refusing a corrupt partition, at its exact byte.
 */

import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ownedTemporaryDirectory } from '@herald/test-support';
import { CHECKSUM_THREAD_START_AFTER_BYTES, checksumRanges } from '../src/checksum-threads.ts';
import { crc32c } from '../src/crc32c.ts';
import { isLogError, openPartition, type Partition, recordBatchSize } from '../src/index.ts';
import { valueFor } from './support/fixtures.ts';

const SEGMENT_ZERO = '00000000000000000000.log';
/** 100 records of 100 bytes per batch, about 11 KiB: 300 batches span four 1 MiB windows. */
const RECORDS_PER_BATCH = 100;
const BATCHES = 300;

/** Appends {@link BATCHES} batches and closes; returns the stored size of each batch. */
async function fill(directory: string): Promise<number> {
  const partition = await openPartition({ directory });
  let batchBytes = 0;
  for (let batch = 0; batch < BATCHES; batch++) {
    const records = Array.from({ length: RECORDS_PER_BATCH }, (_, index) => ({
      value: valueFor(batch * RECORDS_PER_BATCH + index),
      timestampMs: 1000 + batch,
    }));
    const { baseOffset } = await partition.append(records);
    if (batch === 0) batchBytes = recordBatchSize((await partition.read(baseOffset, 1)).batches);
  }
  await partition.close();
  return batchBytes;
}

/** Removes the index files, and the checkpoint too when `checkpoint` is false. */
async function forget(directory: string, checkpoint: boolean): Promise<void> {
  for (const name of await readdir(directory)) {
    if (
      name.endsWith('.index') ||
      name.endsWith('.timeindex') ||
      (!checkpoint && name === 'partition.checkpoint')
    ) {
      await rm(path.join(directory, name));
    }
  }
}

async function flipByte(file: string, position: number): Promise<void> {
  const bytes = await readFile(file);
  bytes[position]! ^= 0x10;
  await writeFile(file, bytes);
}

async function assertAllRecords(partition: Partition, count: number): Promise<void> {
  let offset = 0n;
  for (let reads = 0; offset < BigInt(count) && reads < 10_000; reads++) {
    const result = await partition.readRecords(offset, 1 << 20);
    for (const record of result.records) {
      assert.deepEqual(new Uint8Array(record.value!), valueFor(Number(record.offset)));
    }
    offset = result.nextOffset;
  }
  assert.equal(offset, BigInt(count));
}

/**
 * Makes the next scan use a checksum thread: a burst starts one only after
 * CHECKSUM_THREAD_START_AFTER_BYTES were computed inline, and it ends after 1 s idle, so the open
 * must follow at once.
 */
async function startChecksumThread(): Promise<void> {
  const bytes = Buffer.from(new SharedArrayBuffer(1 << 20));
  const ranges = new Int32Array([0, bytes.length]);
  const callsMax = Math.ceil(CHECKSUM_THREAD_START_AFTER_BYTES / bytes.length) + 1;
  for (let call = 0; call <= callsMax; call++) {
    const answer = checksumRanges(bytes, ranges);
    if (answer instanceof Promise) {
      await answer;
      return;
    }
  }
  assert.fail('no checksum thread started');
}

describe('recovery scan over many windows', { timeout: 120_000 }, () => {
  test('checksum threads compute what this thread computes, in place in shared memory', async () => {
    const bytes = Buffer.from(new SharedArrayBuffer(1 << 20));
    for (let at = 0; at < bytes.length; at++) bytes[at] = (at * 7919) & 0xff;
    const ranges = new Int32Array([0, 300_000, 300_001, 700_003, 5, 6, 700_003, 1 << 20]);
    // A burst starts a thread once CHECKSUM_THREAD_START_AFTER_BYTES were computed inline.
    let bytesPerCall = 0;
    for (let index = 0; index < ranges.length; index += 2)
      bytesPerCall += ranges[index + 1]! - ranges[index]!;
    const inlineCallsMax = Math.ceil(CHECKSUM_THREAD_START_AFTER_BYTES / bytesPerCall) + 1;
    let answer = checksumRanges(bytes, ranges);
    for (let call = 0; !(answer instanceof Promise) && call < inlineCallsMax; call++) {
      answer = checksumRanges(bytes, ranges);
    }
    assert.ok(answer instanceof Promise, 'a large shared window goes to a thread once the burst is large');
    const crcs = await answer;
    for (let index = 0; index < ranges.length / 2; index++) {
      assert.equal(crcs[index], crc32c(bytes, ranges[2 * index], ranges[2 * index + 1]), `range ${index}`);
    }
    // Small or unshared input is computed inline, synchronously.
    const small = checksumRanges(Buffer.from('123456789'), new Int32Array([0, 9]));
    assert.ok(!(small instanceof Promise));
    assert.equal(small[0], 0xe3069283);
  });

  test('a checksum thread takes 8 windows in flight before the caller computes one itself', async () => {
    // With 2 in flight the caller computed two thirds of a 1.1 GB recovery's CRCs on 2 cores.
    await startChecksumThread();
    const windowsInFlight = 8;
    const windows = Array.from({ length: windowsInFlight }, (_, window) => {
      const bytes = Buffer.from(new SharedArrayBuffer(1 << 20));
      for (let at = 0; at < bytes.length; at += 4093) bytes[at] = (at + window) & 0xff;
      return bytes;
    });
    const ranges = new Int32Array([3, 1 << 20]);
    const answers = windows.map((bytes) => checksumRanges(bytes, ranges));
    for (const [window, answer] of answers.entries()) {
      assert.ok(answer instanceof Promise, `window ${window} goes to a thread`);
      assert.equal((await answer)[0], crc32c(windows[window]!, 3, 1 << 20), `window ${window}`);
    }
  });

  test('without checkpoint or index, every batch is validated and the indexes rebuilt', async () => {
    await using temporary = await ownedTemporaryDirectory();
    await fill(temporary.directory);
    await forget(temporary.directory, false);
    await startChecksumThread();
    const partition = await openPartition({ directory: temporary.directory });
    const logBytes = (await stat(path.join(temporary.directory, SEGMENT_ZERO))).size;
    assert.ok(logBytes > 3 * (1 << 20), `the log spans several windows (${logBytes} bytes)`);
    assert.equal(partition.recoveryReport.checkpoint, 'missing');
    assert.equal(partition.recoveryReport.truncation, undefined);
    assert.equal(partition.recoveryReport.scannedBytes, logBytes);
    assert.equal(partition.highWatermark, BigInt(BATCHES * RECORDS_PER_BATCH));
    await assertAllRecords(partition, BATCHES * RECORDS_PER_BATCH);
    assert.deepEqual(await partition.offsetForTimestamp(1000 + 250), {
      offset: BigInt(250 * RECORDS_PER_BATCH),
      timestampMs: 1000 + 250,
    });
    await partition.close();
  });

  test('a bad batch in a later window of an uncheckpointed log is a torn tail, cut at its first byte', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const batchBytes = await fill(temporary.directory);
    await forget(temporary.directory, false);
    const file = path.join(temporary.directory, SEGMENT_ZERO);
    // Batch 200 starts in the third window.
    await flipByte(file, batchBytes * 200 + 500);
    await startChecksumThread();
    const partition = await openPartition({ directory: temporary.directory });
    assert.equal(partition.highWatermark, BigInt(200 * RECORDS_PER_BATCH));
    assert.equal(partition.recoveryReport.truncation?.position, batchBytes * 200);
    assert.match(partition.recoveryReport.truncation?.reason ?? '', /CRC-32C mismatch/);
    await assertAllRecords(partition, 200 * RECORDS_PER_BATCH);
    await partition.close();
    assert.equal((await stat(file)).size, batchBytes * 200);
  });

  for (const [name, batch] of [
    ['first window', 3],
    ['batch straddling the first window end', Math.floor((1 << 20) / 11_000)],
    ['last batch', BATCHES - 1],
  ] as const) {
    test(`a bit flip below the recovery point in the ${name} refuses the open at its byte`, async () => {
      await using temporary = await ownedTemporaryDirectory();
      const batchBytes = await fill(temporary.directory);
      // The checkpoint stays: every batch is below the recovery point, so damage is corruption.
      await forget(temporary.directory, true);
      const file = path.join(temporary.directory, SEGMENT_ZERO);
      await flipByte(file, batchBytes * batch + 200);
      await startChecksumThread();
      await assert.rejects(
        openPartition({ directory: temporary.directory }),
        (error) =>
          isLogError(error, 'LOG_CORRUPT') &&
          error.message.includes(`${file} at byte ${batchBytes * batch} `) &&
          error.message.includes('CRC-32C mismatch'),
      );
      assert.equal((await stat(file)).size, batchBytes * BATCHES, 'acknowledged data is not truncated');
    });
  }

  test('a broken offset sequence in a later window is reported as such, after the CRCs before it', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const batchBytes = await fill(temporary.directory);
    await forget(temporary.directory, true);
    const file = path.join(temporary.directory, SEGMENT_ZERO);
    // Rewrite batch 150's base offset: its CRC does not cover the base offset, so only the
    // sequence check can see it.
    const bytes = await readFile(file);
    bytes.writeBigInt64BE(7n, batchBytes * 150);
    await writeFile(file, bytes);
    await startChecksumThread();
    await assert.rejects(
      openPartition({ directory: temporary.directory }),
      (error) =>
        isLogError(error, 'LOG_CORRUPT') &&
        error.message.includes(`at byte ${batchBytes * 150} `) &&
        error.message.includes('base offset 7 breaks the dense sequence'),
    );
  });
});
