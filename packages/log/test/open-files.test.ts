/**
 * Opening a partition creates no file it does not need (docs/benchmarks.md, "Recovery without a
 * file per partition"): a store's partitions take their lock by hard-linking the store's lock
 * file (directory-lock.ts), and the recovery point a recovering open validated is checkpointed
 * after open, not during it (recovery.ts). Both without weakening a promise: a partition stays
 * locked against any other open in either direction, and a crash before the deferred checkpoint
 * loses nothing acknowledged.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { eventually, ownedTemporaryDirectory, withDeadline } from '@herald/test-support';
import { isProcessAlive } from '../src/directory-lock.ts';
import {
  type FileSystem,
  isLogError,
  LOCK_FILE_NAME,
  LogLockedError,
  nodeFileSystem,
  openLogStore,
  openPartition,
} from '../src/index.ts';
import { valueFor } from './support/fixtures.ts';

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
