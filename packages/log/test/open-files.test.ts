/**
 * Opening a partition creates no file it does not need (docs/benchmarks.md, "Recovery without a
 * file per partition"): a store's partitions take their lock by hard-linking the store's lock
 * file (directory-lock.ts), the recovery point a recovering open validated is checkpointed after
 * open, not during it, and the directory is synced only when recovery changed it (recovery.ts).
 * All without weakening a promise: a partition stays
 * locked against any other open in either direction, and a crash before the deferred checkpoint
 * loses nothing acknowledged.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { eventually, ownedTemporaryDirectory, withDeadline } from '@herald/test-support';
import { isProcessAlive } from '../src/directory-lock.ts';
import {
  type FileSystem,
  isLogError,
  LOCK_FILE_NAME,
  LogLockedError,
  type LogRecord,
  nodeFileSystem,
  openLogStore,
  openPartition,
  type Partition,
} from '../src/index.ts';
import { CHECKPOINT_FILE_NAME } from '../src/partition-checkpoint.ts';
import { crashImage, valueFor } from './support/fixtures.ts';

const HOLDER = path.join(import.meta.dirname, 'fixtures', 'lock-holder.ts');

/** Starts `fixtures/lock-holder.ts` and resolves once it holds its lock. */
async function startHolder(mode: 'store' | 'partition', directory: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [HOLDER, mode, directory], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await eventually(() => output.includes('ready') || child.exitCode !== null, 'the lock holder started');
  assert.ok(output.includes('ready'), `the lock holder failed: ${output}`);
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await withDeadline(exited, 10_000, 'the lock holder exited');
}

/** A file system that counts the lock candidate files created through it. */
function countingCandidates(inner: FileSystem = nodeFileSystem): FileSystem & { candidates: number } {
  const counting = {
    ...inner,
    candidates: 0,
    async open(file: string, flags: string) {
      if (file.endsWith('.candidate')) counting.candidates++;
      return inner.open(file, flags);
    },
  };
  return counting;
}

describe('the locks of a store partition', { timeout: 120_000 }, () => {
  test('link the store lock: opening partitions creates no candidate file, and closing removes the links', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const fileSystem = countingCandidates();
    const store = await openLogStore({ directory: temporary.directory, fileSystem });
    assert.equal(fileSystem.candidates, 1, 'the store lock itself is written as a candidate');
    for (let partition = 0; partition < 3; partition++) await store.openPartition({ topic: 't', partition });
    assert.equal(fileSystem.candidates, 1, 'no partition wrote a candidate of its own');
    const storeLock = await stat(path.join(temporary.directory, LOCK_FILE_NAME));
    const partitionLock = await stat(path.join(temporary.directory, 't-1', LOCK_FILE_NAME));
    assert.equal(partitionLock.ino, storeLock.ino, 'the partition lock is a link to the store lock');
    assert.equal(storeLock.nlink, 4);
    assert.equal(
      (await readFile(path.join(temporary.directory, 't-2', LOCK_FILE_NAME), 'utf8')).trim(),
      String(process.pid),
    );
    await assert.rejects(
      openPartition({ directory: path.join(temporary.directory, 't-0') }),
      (error) => isLogError(error, 'LOG_LOCKED'),
      'a direct open in the same process is refused',
    );
    await store.close();
    for (const directory of ['t-0', 't-1', 't-2']) {
      assert.deepEqual(
        await readdir(path.join(temporary.directory, directory)).then((names) =>
          names.filter((name) => name.includes('lock')),
        ),
        [],
      );
    }
    await assert.rejects(stat(path.join(temporary.directory, LOCK_FILE_NAME)), 'the store lock is released');
  });

  test('fall back to a candidate file when the store lock cannot be linked (EXDEV)', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const storeLockPath = path.join(temporary.directory, LOCK_FILE_NAME);
    const fileSystem = countingCandidates({
      ...nodeFileSystem,
      async link(from: string, to: string) {
        if (from === storeLockPath) {
          throw Object.assign(new Error('EXDEV: cross-device link not permitted'), { code: 'EXDEV' });
        }
        return nodeFileSystem.link(from, to);
      },
    });
    const store = await openLogStore({ directory: temporary.directory, fileSystem });
    const partition = await store.openPartition({ topic: 't', partition: 0 });
    assert.equal(fileSystem.candidates, 2);
    await partition.append([{ value: valueFor(1) }]);
    assert.notEqual(
      (await stat(path.join(temporary.directory, 't-0', LOCK_FILE_NAME))).ino,
      (await stat(storeLockPath)).ino,
    );
    assert.deepEqual(
      (await readdir(path.join(temporary.directory, 't-0'))).filter((name) => name.endsWith('.candidate')),
      [],
    );
    await store.close();
  });

  test("refuse a direct open from another process of a live store's partition", async (t) => {
    await using temporary = await ownedTemporaryDirectory();
    const holder = await startHolder('store', temporary.directory);
    t.after(() => kill(holder));
    await assert.rejects(
      openPartition({ directory: path.join(temporary.directory, 't-0') }),
      (error) => error instanceof LogLockedError && error.pid === holder.pid,
    );
    await assert.rejects(openLogStore({ directory: temporary.directory }), (error) =>
      isLogError(error, 'LOG_LOCKED'),
    );
  });

  test('refuse the store open of a partition another process opened directly, until that process dies', async (t) => {
    await using temporary = await ownedTemporaryDirectory();
    const holder = await startHolder('partition', temporary.directory);
    t.after(() => kill(holder));
    const store = await openLogStore({ directory: temporary.directory });
    try {
      await assert.rejects(
        store.openPartition({ topic: 't', partition: 0 }),
        (error) => error instanceof LogLockedError && error.pid === holder.pid,
      );
      await store.openPartition({ topic: 't', partition: 1 });
      await kill(holder);
      await eventually(() => !isProcessAlive(holder.pid!), 'the holder is gone');
      const taken = await store.openPartition({ topic: 't', partition: 0 });
      await taken.append([{ value: valueFor(2) }]);
      assert.equal(
        (await stat(path.join(temporary.directory, 't-0', LOCK_FILE_NAME))).ino,
        (await stat(path.join(temporary.directory, LOCK_FILE_NAME))).ino,
        'the stale lock was replaced by a link to the store lock',
      );
    } finally {
      await store.close();
    }
  });

  test('take over the store and partition locks of a store killed with its partitions open', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const holder = await startHolder('store', temporary.directory);
    await kill(holder);
    await eventually(() => !isProcessAlive(holder.pid!), 'the holder is gone');
    assert.equal(
      (await readFile(path.join(temporary.directory, 't-0', LOCK_FILE_NAME), 'utf8')).trim(),
      String(holder.pid),
      'the killed store left its partition lock',
    );
    const store = await openLogStore({ directory: temporary.directory });
    const partition = await store.openPartition({ topic: 't', partition: 0 });
    assert.equal(
      (await readFile(path.join(temporary.directory, 't-0', LOCK_FILE_NAME), 'utf8')).trim(),
      String(process.pid),
    );
    await partition.append([{ value: valueFor(3) }]);
    await store.close();
  });
});

async function appendValues(partition: Partition, from: number, count: number): Promise<void> {
  for (let index = from; index < from + count; index++) {
    // Timestamps of now: an old first timestamp would roll the segment by age on the next append.
    await partition.append([{ value: valueFor(index, 300) }]);
  }
}

async function assertValues(partition: Partition, count: number): Promise<void> {
  const records: LogRecord[] = [];
  let offset = partition.logStartOffset;
  for (let reads = 0; offset < partition.highWatermark && reads < 10_000; reads++) {
    const result = await partition.readRecords(offset, 1 << 20);
    records.push(...result.records);
    offset = result.nextOffset;
  }
  assert.equal(records.length, count);
  records.forEach((record, index) => {
    assert.equal(record.offset, BigInt(index));
    assert.deepEqual(new Uint8Array(record.value!), valueFor(index, 300));
  });
}

/** A crash image (files as a kill -9 leaves them) of a partition holding `count` batches, never checkpointed after its creation. */
async function crashed(directory: string, count: number): Promise<string> {
  const live = path.join(directory, 'live');
  const image = path.join(directory, 'crashed');
  const partition = await openPartition({ directory: live, checkpointIntervalMs: 3_600_000 });
  await appendValues(partition, 0, count);
  await mkdir(image);
  await crashImage(live, image);
  await partition.close();
  return image;
}

describe('the recovery checkpoint, written after open', { timeout: 120_000 }, () => {
  test('a recovering open leaves the checkpoint as it was; a crash before the next one loses nothing acknowledged', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const image = await crashed(temporary.directory, 10);
    // Garbage after the last batch: recovery cuts a torn tail as well.
    await writeFile(path.join(image, '00000000000000000000.log'), Buffer.alloc(333, 0xab), { flag: 'a' });
    const checkpointBefore = await readFile(path.join(image, CHECKPOINT_FILE_NAME));
    // Checkpoint writes wait until the test has taken its crash image: the crash lands before it.
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let checkpointsStarted = 0;
    const fileSystem: FileSystem = {
      ...nodeFileSystem,
      async open(file, flags) {
        if (file.endsWith(`${CHECKPOINT_FILE_NAME}.tmp`)) {
          checkpointsStarted++;
          await held;
        }
        return nodeFileSystem.open(file, flags);
      },
    };
    const partition = await openPartition({ directory: image, checkpointIntervalMs: 3_600_000, fileSystem });
    assert.equal(partition.recoveryReport.checkpoint, 'unclean');
    assert.equal(partition.recoveryReport.truncation?.bytesRemoved, 333);
    assert.deepEqual(
      await readFile(path.join(image, CHECKPOINT_FILE_NAME)),
      checkpointBefore,
      'open wrote no checkpoint',
    );
    assert.deepEqual(
      (await readdir(image)).filter((name) => name.endsWith('.tmp')),
      [],
      'nor a temporary file',
    );
    assert.equal(checkpointsStarted, 0);
    await appendValues(partition, 10, 5);
    assert.equal(checkpointsStarted, 1, 'the first sync after open asked for the recovery checkpoint');
    const second = path.join(temporary.directory, 'second');
    await mkdir(second);
    await crashImage(image, second);
    assert.deepEqual(await readFile(path.join(second, CHECKPOINT_FILE_NAME)), checkpointBefore);
    release();
    await partition.close();
    const reopened = await openPartition({ directory: second });
    try {
      assert.equal(
        reopened.recoveryReport.checkpoint,
        'unclean',
        'the old checkpoint is still the one on disk',
      );
      assert.equal(reopened.recoveryReport.truncation, undefined);
      assert.equal(reopened.highWatermark, 15n);
      await assertValues(reopened, 15);
    } finally {
      await reopened.close();
    }
  });

  test('the first append after a recovering open writes the recovery checkpoint: damage below it is then corruption', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const image = await crashed(temporary.directory, 6);
    // The interval is long: the checkpoint is due at the first sync after open anyway.
    const partition = await openPartition({ directory: image, checkpointIntervalMs: 3_600_000 });
    try {
      await appendValues(partition, 6, 1);
      await eventually(
        async () =>
          (await readFile(path.join(image, CHECKPOINT_FILE_NAME), 'utf8')).includes('recovery-point 7\n'),
        'the recovery checkpoint was written',
      );
      const second = path.join(temporary.directory, 'second');
      await mkdir(second);
      await crashImage(image, second);
      // A bit flipped in the third batch, which the checkpoint now covers: refused, not cut.
      const file = path.join(second, '00000000000000000000.log');
      const bytes = await readFile(file);
      bytes[Math.floor((bytes.length * 2.5) / 7)]! ^= 0x10;
      await writeFile(file, bytes);
      await assert.rejects(openPartition({ directory: second }), (error) => isLogError(error, 'LOG_CORRUPT'));
    } finally {
      await partition.close();
    }
  });

  test('a failed recovery checkpoint after open makes the partition read-only, like any scheduled checkpoint', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const image = await crashed(temporary.directory, 3);
    let failed = false;
    const fileSystem: FileSystem = {
      ...nodeFileSystem,
      async open(file, flags) {
        if (file.endsWith(`${CHECKPOINT_FILE_NAME}.tmp`)) {
          failed = true;
          throw Object.assign(new Error('EIO: i/o error, open'), { code: 'EIO' });
        }
        return nodeFileSystem.open(file, flags);
      },
    };
    const partition = await openPartition({ directory: image, checkpointIntervalMs: 3_600_000, fileSystem });
    try {
      assert.equal(failed, false, 'open wrote no checkpoint');
      await appendValues(partition, 3, 1);
      await eventually(() => failed, 'the recovery checkpoint was attempted');
      await eventually(
        () =>
          partition.append([{ value: valueFor(9) }]).then(
            () => false,
            (error: unknown) => isLogError(error, 'LOG_READ_ONLY') || isLogError(error, 'LOG_IO'),
          ),
        'appends are refused',
      );
      await assertValues(partition, 4);
    } finally {
      await partition.close().catch(() => {});
    }
  });
  test('a recovering open syncs the directory only when it removed or truncated something', async () => {
    await using temporary = await ownedTemporaryDirectory();
    const image = await crashed(temporary.directory, 4);
    const directorySyncs: string[] = [];
    const fileSystem: FileSystem = {
      ...nodeFileSystem,
      async open(file, flags) {
        if (file === image && flags === 'r') directorySyncs.push(file);
        return nodeFileSystem.open(file, flags);
      },
    };
    const partition = await openPartition({ directory: image, fileSystem });
    assert.equal(partition.recoveryReport.checkpoint, 'unclean');
    assert.deepEqual(directorySyncs, [], 'nothing in the directory changed');
    await partition.close();
    // A crash image with a torn tail: its truncation is made durable before open resolves.
    const second = path.join(temporary.directory, 'second');
    await mkdir(second);
    await crashImage(image, second);
    await writeFile(path.join(second, '00000000000000000000.log'), Buffer.alloc(99, 0xab), { flag: 'a' });
    await writeFile(path.join(second, `${CHECKPOINT_FILE_NAME}.tmp`), 'left by a crash');
    const torn: string[] = [];
    const reopened = await openPartition({
      directory: second,
      fileSystem: {
        ...nodeFileSystem,
        async open(file, flags) {
          if (file === second && flags === 'r') torn.push(file);
          return nodeFileSystem.open(file, flags);
        },
      },
    });
    assert.equal(reopened.recoveryReport.truncation?.bytesRemoved, 99);
    assert.deepEqual(torn, [second]);
    await reopened.close();
  });
});
