import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { HeraldError } from '@herald/errors';
import { eventually, ownedTemporaryDirectory } from '@herald/test-support';
import { acquireDirectoryLock } from '../src/directory-lock.ts';
import {
  type FileSystem,
  isLogError,
  LOCK_FILE_NAME,
  LogLockedError,
  type LogRecord,
  nodeFileSystem,
  openPartition,
  type Partition,
  recordBatchSize,
  utf8,
} from '../src/index.ts';
import { crashImage, faultyFileSystem, valueFor } from './support/fixtures.ts';

/**
 * A file system whose log-file fdatasyncs wait until the test releases them one by one (with an
 * optional injected errno), so a write can be made to land while a sync is in flight.
 */
function gatedSyncFileSystem(): FileSystem & {
  readonly waiting: number;
  release(code?: string): void;
} {
  const gates: ((code?: string) => void)[] = [];
  const logFds = new Set<number>();
  return {
    ...nodeFileSystem,
    async open(file: string, flags: string) {
      const fd = await nodeFileSystem.open(file, flags);
      if (file.endsWith('.log')) {
        logFds.add(fd);
      }
      return fd;
    },
    get waiting() {
      return gates.length;
    },
    release(code?: string) {
      gates.shift()?.(code);
    },
    async fdatasync(fd: number) {
      if (!logFds.has(fd)) {
        return nodeFileSystem.fdatasync(fd);
      }
      const code = await new Promise<string | undefined>((resolve) => gates.push(resolve));
      if (code !== undefined) {
        throw Object.assign(new Error(`injected ${code}`), { code });
      }
      return nodeFileSystem.fdatasync(fd);
    },
  };
}

function text(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes).toString('utf8');
}

const SEGMENT_ZERO = '00000000000000000000.log';

/** Appends `count` one-record batches; returns the byte size of each stored batch. */
async function appendValues(partition: Partition, count: number, size = 300): Promise<number> {
  let batchBytes = 0;
  for (let index = 0; index < count; index++) {
    const { baseOffset } = await partition.append([
      { value: valueFor(index, size), timestampMs: 1000 + index },
    ]);
    if (index === 0) {
      batchBytes = recordBatchSize((await partition.read(baseOffset, 1)).batches);
    }
  }
  return batchBytes;
}

async function readAll(partition: Partition): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  let offset = partition.logStartOffset;
  for (let reads = 0; offset < partition.highWatermark && reads < 10_000; reads++) {
    const result = await partition.readRecords(offset, 1 << 20);
    records.push(...result.records);
    offset = result.nextOffset;
  }
  return records;
}

function assertValues(records: readonly LogRecord[], count: number, size = 300): void {
  assert.equal(records.length, count);
  records.forEach((record, index) => {
    assert.equal(record.offset, BigInt(index));
    assert.deepEqual(new Uint8Array(record.value!), valueFor(index, size));
  });
}

/**
 * Writes `count` batches with a live partition, then takes a crash image of it (stale checkpoint,
 * no index files for the active segment) into `<directory>/crashed`.
 */
async function crashedPartition(
  directory: string,
  count: number,
): Promise<{ crashed: string; batchBytes: number }> {
  const live = path.join(directory, 'live');
  const crashed = path.join(directory, 'crashed');
  const partition = await openPartition({ directory: live, checkpointIntervalMs: 3_600_000 });
  const batchBytes = await appendValues(partition, count);
  await mkdir(crashed);
  await crashImage(live, crashed);
  await partition.close();
  return { crashed, batchBytes };
}

describe('recovery of a torn tail', { timeout: 120_000 }, () => {
  test('a truncated tail is cut back to the last whole batch', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const { crashed, batchBytes } = await crashedPartition(temporary.directory, 20);
    await truncate(path.join(crashed, SEGMENT_ZERO), batchBytes * 17 + 40);
    const partition = await openPartition({ directory: crashed });
    assert.equal(partition.highWatermark, 17n);
    assert.equal(partition.recoveryReport.truncation?.position, batchBytes * 17);
    assert.equal(partition.recoveryReport.truncation?.bytesRemoved, 40);
    assertValues(await readAll(partition), 17);
    assert.deepEqual(await partition.append([{ value: utf8('after') }]), {
      baseOffset: 17n,
      lastOffset: 17n,
    });
    assert.equal(text((await partition.readRecords(17n, 100)).records[0]!.value), 'after');
    await partition.close();
    assert.equal(
      (await stat(path.join(crashed, SEGMENT_ZERO))).size,
      batchBytes * 17,
      'the torn bytes are gone',
    );
  });

  test('garbage appended after the last batch is removed', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const { crashed, batchBytes } = await crashedPartition(temporary.directory, 10);
    await writeFile(path.join(crashed, SEGMENT_ZERO), Buffer.alloc(777, 0xab), { flag: 'a' });
    const partition = await openPartition({ directory: crashed });
    assert.equal(partition.highWatermark, 10n);
    assert.equal(partition.recoveryReport.truncation?.position, batchBytes * 10);
    assertValues(await readAll(partition), 10);
    await partition.close();
    assert.equal((await stat(path.join(crashed, SEGMENT_ZERO))).size, batchBytes * 10);
  });

  test('a zeroed last 512 bytes is cut back to the last valid batch', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const { crashed, batchBytes } = await crashedPartition(temporary.directory, 12);
    const file = path.join(crashed, SEGMENT_ZERO);
    const bytes = await readFile(file);
    bytes.fill(0, bytes.length - 512);
    await writeFile(file, bytes);
    const lastIntact = Math.floor((bytes.length - 512) / batchBytes);
    const partition = await openPartition({ directory: crashed });
    assert.equal(partition.highWatermark, BigInt(lastIntact));
    assert.match(partition.recoveryReport.truncation?.reason ?? '', /smaller|magic|CRC|torn|dense/);
    assertValues(await readAll(partition), lastIntact);
    await partition.close();
  });

  test('recovery is idempotent: reopening after a truncation changes nothing', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const { crashed, batchBytes } = await crashedPartition(temporary.directory, 8);
    await truncate(path.join(crashed, SEGMENT_ZERO), batchBytes * 8 - 1);
    await (await openPartition({ directory: crashed })).close();
    const again = await openPartition({ directory: crashed });
    assert.equal(again.recoveryReport.truncation, undefined);
    assert.equal(again.recoveryReport.checkpoint, 'clean');
    assert.equal(again.highWatermark, 7n);
    await again.close();
  });
});

describe('corruption below the recovery point', { timeout: 120_000 }, () => {
  test('a bit flip in the last acknowledged batch refuses the open with LOG_CORRUPT naming file and byte', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    const batchBytes = await appendValues(partition, 10);
    await partition.close();
    const file = path.join(temporary.directory, SEGMENT_ZERO);
    const bytes = await readFile(file);
    bytes[batchBytes * 9 + 100]! ^= 0x04;
    await writeFile(file, bytes);
    await assert.rejects(
      openPartition({ directory: temporary.directory }),
      (error) =>
        isLogError(error, 'LOG_CORRUPT') &&
        error.message.includes(file) &&
        error.message.includes(`byte ${batchBytes * 9}`) &&
        error.message.includes('CRC'),
    );
    assert.equal((await stat(file)).size, bytes.length, 'acknowledged data is not truncated');
    // The lock was released: the failure is about the data, not a leaked handle.
    await (await acquireDirectoryLock(temporary.directory)).release();
  });

  test('a bit flip in an older segment is caught on read and never returned as data', async () => {
    await using temporary = await ownedTemporaryDirectory();
    // Index entries every 512 bytes: open re-validates only the tail after the last entry, so the
    // flip near the start of the closed segment is left for the read path to catch.
    const options = { directory: temporary.directory, segmentBytesMax: 4096, indexIntervalBytes: 512 };
    const partition = await openPartition(options);
    const batchBytes = await appendValues(partition, 40);
    await partition.close();
    const file = path.join(temporary.directory, SEGMENT_ZERO);
    const bytes = await readFile(file);
    bytes[batchBytes * 2 + 90]! ^= 0x01;
    await writeFile(file, bytes);
    const reopened = await openPartition(options);
    assertValues((await reopened.readRecords(0n, batchBytes * 2)).records, 2);
    await assert.rejects(reopened.readRecords(2n, 1 << 20), (error) => {
      return isLogError(error, 'LOG_CORRUPT') && error.message.includes(`${file} at byte ${batchBytes * 2}`);
    });
    await assert.rejects(
      reopened.read(0n, 100),
      (error) => isLogError(error, 'LOG_CORRUPT'),
      'the partition is no longer served',
    );
    await assert.rejects(reopened.append([{ value: utf8('x') }]), (error) =>
      isLogError(error, 'LOG_CORRUPT'),
    );
    await reopened.close();
  });

  test('a damaged checkpoint makes open validate everything instead of trusting it', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    await appendValues(partition, 5);
    await partition.close();
    await writeFile(
      path.join(temporary.directory, 'partition.checkpoint'),
      'herald-log-checkpoint 1\nrubbish\n',
    );
    const reopened = await openPartition({ directory: temporary.directory });
    assert.equal(reopened.recoveryReport.checkpoint, 'damaged');
    assertValues(await readAll(reopened), 5);
    await reopened.close();
  });
});

describe('index files', { timeout: 120_000 }, () => {
  const options = (directory: string) => ({ directory, segmentBytesMax: 8192, indexIntervalBytes: 512 });

  for (const damage of ['deleted', 'garbage', 'shifted'] as const) {
    test(`a ${damage} index is rebuilt and reads stay correct`, async () => {
      await using temporary = await ownedTemporaryDirectory();
      const partition = await openPartition(options(temporary.directory));
      await appendValues(partition, 60);
      await partition.close();
      const indexFile = path.join(temporary.directory, '00000000000000000000.index');
      if (damage === 'deleted') {
        await unlink(indexFile);
      } else if (damage === 'garbage') {
        await writeFile(indexFile, Buffer.alloc(24, 0x5a));
      } else {
        // Structurally valid but pointing every entry past the start of its batch.
        const bytes = await readFile(indexFile);
        for (let at = 8; at < bytes.length; at += 8) {
          bytes.writeUInt32BE(bytes.readUInt32BE(at + 4) + 7, at + 4);
        }
        await writeFile(indexFile, bytes);
      }
      const reopened = await openPartition(options(temporary.directory));
      assert.ok(
        reopened.recoveryReport.rebuiltIndexes.some((file) => file.endsWith(SEGMENT_ZERO)),
        `rebuilt: ${reopened.recoveryReport.rebuiltIndexes.join(', ')}`,
      );
      assertValues(await readAll(reopened), 60);
      assert.equal((await reopened.readRecords(17n, 1)).records[0]!.offset, 17n);
      await reopened.close();
      assert.ok((await stat(indexFile)).size > 8, 'the rebuilt index was written back');
    });
  }

  test('a damaged time index is rebuilt and time lookups stay correct', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition(options(temporary.directory));
    await appendValues(partition, 60);
    await partition.close();
    await writeFile(path.join(temporary.directory, '00000000000000000000.timeindex'), Buffer.alloc(5));
    const reopened = await openPartition(options(temporary.directory));
    assert.ok(reopened.recoveryReport.rebuiltIndexes.length > 0);
    assert.deepEqual(await reopened.offsetForTimestamp(1010), { offset: 10n, timestampMs: 1010 });
    await reopened.close();
  });
});

describe('directory lock', { timeout: 120_000 }, () => {
  test('a lock held by a live process refuses the open with LOG_LOCKED naming its pid', async (t) => {
    await using temporary = await ownedTemporaryDirectory();
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    t.after(() => sleeper.kill('SIGKILL'));
    await writeFile(path.join(temporary.directory, LOCK_FILE_NAME), `${sleeper.pid}\n`);
    await assert.rejects(
      openPartition({ directory: temporary.directory }),
      (error) =>
        error instanceof LogLockedError &&
        isLogError(error, 'LOG_LOCKED') &&
        error.pid === sleeper.pid &&
        error.directory === temporary.directory &&
        error instanceof HeraldError &&
        error.message.includes(`process ${sleeper.pid}`),
    );
  });

  test('a lock left by a dead process is taken over', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((resolve) => dead.once('exit', resolve));
    await writeFile(path.join(temporary.directory, LOCK_FILE_NAME), `${dead.pid}\n`);
    const partition = await openPartition({ directory: temporary.directory });
    assert.equal(
      (await readFile(path.join(temporary.directory, LOCK_FILE_NAME), 'utf8')).trim(),
      String(process.pid),
    );
    await partition.close();
    await assert.rejects(stat(path.join(temporary.directory, LOCK_FILE_NAME)), 'released on close');
  });

  test('a lock file without a pid (never written by the link-based lock) is stale and taken over at once', async () => {
    await using temporary = await ownedTemporaryDirectory();
    await writeFile(path.join(temporary.directory, LOCK_FILE_NAME), '');
    const partition = await openPartition({ directory: temporary.directory });
    assert.equal(
      (await readFile(path.join(temporary.directory, LOCK_FILE_NAME), 'utf8')).trim(),
      String(process.pid),
    );
    await partition.close();
    const leftovers = (await readdir(temporary.directory)).filter((name) => name.endsWith('.candidate'));
    assert.deepEqual(leftovers, [], 'the lock candidate file was not removed');
  });

  test('a lock whose removal failed on close (EIO) does not keep this process out: the next open takes it over', async () => {
    await using temporary = await ownedTemporaryDirectory();
    let failUnlink = true;
    const fileSystem: FileSystem = {
      ...nodeFileSystem,
      unlink: async (file) => {
        if (failUnlink && path.basename(file) === LOCK_FILE_NAME) {
          failUnlink = false;
          throw Object.assign(new Error('EIO: i/o error, unlink'), { code: 'EIO' });
        }
        return nodeFileSystem.unlink(file);
      },
    };
    await (await openPartition({ directory: temporary.directory, fileSystem })).close();
    assert.equal(failUnlink, false, 'the release tried to remove the lock');
    assert.equal(
      (await readFile(path.join(temporary.directory, LOCK_FILE_NAME), 'utf8')).trim(),
      String(process.pid),
      'the lock file stayed behind',
    );
    const reopened = await openPartition({ directory: temporary.directory, fileSystem });
    await assert.rejects(openPartition({ directory: temporary.directory }), (error) =>
      isLogError(error, 'LOG_LOCKED'),
    );
    await reopened.close();
  });

  test('a second open in the same process is refused', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const partition = await openPartition({ directory: temporary.directory });
    await assert.rejects(openPartition({ directory: temporary.directory }), (error) =>
      isLogError(error, 'LOG_LOCKED'),
    );
    await partition.close();
  });

  test('a directory that cannot be created or written reports LOG_NOT_WRITABLE with advice', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const file = path.join(temporary.directory, 'plain-file');
    await writeFile(file, 'x');
    await assert.rejects(
      openPartition({ directory: path.join(file, 'partition') }),
      (error) => isLogError(error, 'LOG_NOT_WRITABLE') && /choose/.test(error.message),
    );
    await assert.rejects(
      openPartition({
        directory: path.join(temporary.directory, 'p'),
        fileSystem: faultyFileSystem({ mkdir: 'EACCES' }),
      }),
      (error) => isLogError(error, 'LOG_NOT_WRITABLE') && /writable/.test(error.message),
    );
    await assert.rejects(
      openPartition({
        directory: path.join(temporary.directory, 'q'),
        fileSystem: faultyFileSystem({ mkdir: 'ENOSPC' }),
      }),
      (error) => isLogError(error, 'LOG_DISK_FULL'),
    );
  });
});

describe('write and sync failures', { timeout: 120_000 }, () => {
  test('a failed fdatasync makes the partition read-only and nothing is acknowledged after it', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const plan: { fdatasync?: string } = {};
    const partition = await openPartition({
      directory: temporary.directory,
      fileSystem: faultyFileSystem(plan),
    });
    await appendValues(partition, 3);
    plan.fdatasync = 'EIO';
    const outcomes = await Promise.allSettled([
      partition.append([{ value: utf8('lost-1') }]),
      partition.append([{ value: utf8('lost-2') }]),
    ]);
    const codes = outcomes.map((outcome) =>
      outcome.status === 'rejected' ? (outcome.reason as { code: string }).code : 'ok',
    );
    assert.ok(
      codes.every((code) => code === 'LOG_IO' || code === 'LOG_READ_ONLY'),
      codes.join(),
    );
    assert.equal(codes[0], 'LOG_IO');
    delete plan.fdatasync;
    await assert.rejects(partition.append([{ value: utf8('later') }]), (error) =>
      isLogError(error, 'LOG_READ_ONLY'),
    );
    assert.equal(partition.highWatermark, 3n, 'unsynced data is never published');
    assert.equal(partition.failure?.code, 'LOG_READ_ONLY');
    assertValues(await readAll(partition), 3);
    await partition.close();
    const reopened = await openPartition({ directory: temporary.directory });
    assert.ok(reopened.highWatermark >= 3n);
    assertValues((await readAll(reopened)).slice(0, 3), 3);
    await reopened.close();
  });

  test('a sync acknowledges only writes completed before it started (pipelined group commit)', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const fileSystem = gatedSyncFileSystem();
    const partition = await openPartition({ directory: temporary.directory, fileSystem });
    const settled: string[] = [];
    const first = partition.append([{ value: utf8('a') }]).then(() => settled.push('a'));
    await eventually(() => fileSystem.waiting === 1, 'the first sync to start', 2000);
    // Written while the first sync runs: that sync must not acknowledge it.
    const second = partition.append([{ value: utf8('b') }]);
    second.then(() => settled.push('b')).catch(() => settled.push('b rejected'));
    await eventually(() => partition.describeSegments()[0]!.nextOffset === 2n, 'b to be written', 2000);
    fileSystem.release();
    await first;
    await eventually(() => fileSystem.waiting === 1, 'the second sync to start', 2000);
    assert.deepEqual(settled, ['a']);
    assert.equal(partition.highWatermark, 1n, 'b is not published before its own sync');
    // The second sync fails: b is rejected, the first stays acknowledged and visible.
    fileSystem.release('EIO');
    await assert.rejects(second, (error) => isLogError(error, 'LOG_IO'));
    assert.equal(partition.highWatermark, 1n);
    await assert.rejects(partition.append([{ value: utf8('c') }]), (error) =>
      isLogError(error, 'LOG_READ_ONLY'),
    );
    assert.deepEqual(
      (await partition.readRecords(0n, 1024)).records.map((record) => text(record.value)),
      ['a'],
    );
    await partition.close();
  });

  test('a full disk on write is reported as LOG_DISK_FULL and the partition turns read-only', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const plan: { writev?: string } = {};
    const partition = await openPartition({
      directory: temporary.directory,
      fileSystem: faultyFileSystem(plan),
    });
    await appendValues(partition, 2);
    plan.writev = 'ENOSPC';
    await assert.rejects(
      partition.append([{ value: utf8('no room') }]),
      (error) => isLogError(error, 'LOG_DISK_FULL') && /free space/.test(error.message),
    );
    delete plan.writev;
    await assert.rejects(partition.append([{ value: utf8('x') }]), (error) =>
      isLogError(error, 'LOG_READ_ONLY'),
    );
    assert.equal(partition.highWatermark, 2n);
    await partition.close();
  });
});
