/**
 * An advisory lock that keeps two processes (or two opens in one process) from writing the same
 * data directory: a lock file holding the owner's pid. It is created by writing the pid to a
 * candidate file and hard-linking that to the lock name (link fails if the name exists), so the
 * lock file never exists without its pid, even if the process is killed while taking it.
 *
 * A lock nested in one this process holds (a log store's partitions, log-store.ts) links that
 * held lock file itself as the candidate (`linkFrom`): it already holds this pid, so taking the
 * lock creates no file. Creating files was the largest part of a recovering store's system CPU:
 * this machine's journal-less ext4 scans past every recently deleted inode to allocate one
 * (in a `perf record` of recovering 400 partitions, as many samples as copying the 1.1 GB log out
 * of the page cache; docs/benchmarks.md, "Recovery without a file per partition"). Exclusion is unchanged: each partition directory still holds a
 * `herald.lock` naming the owner's pid, so any process (of this version or an older one)
 * opening that directory directly finds it held, and a store finds a directly opened
 * partition's lock.
 *
 * A lock file left by a process that died (kill -9, power loss) is taken over when its pid is no
 * longer alive. Limits: a pid reused by an unrelated live process keeps the lock held (remove the
 * file by hand); two processes taking over the same stale lock at the same instant are not fully
 * serialised (each re-reads the file after creating it, which catches the common interleaving).
 */

import path from 'node:path';
import { ioError, LogError, LogLockedError, systemErrorCode } from './errors.ts';
import { type FileSystem, nodeFileSystem, writeFully } from './file-system.ts';

/** Name of the lock file inside a locked directory. */
export const LOCK_FILE_NAME = 'herald.lock';

/** A held lock; release it when done. */
export interface DirectoryLock {
  /** The lock file's path. */
  readonly path: string;
  /** Removes the lock file if this process still owns it. Idempotent. */
  release(): Promise<void>;
}

/** Options of {@link acquireDirectoryLock}. */
export interface DirectoryLockOptions {
  /** File system to use; tests inject failures here. */
  readonly fileSystem?: FileSystem;
  /** Pid written into the lock. Default `process.pid`. */
  readonly pid?: number;
  /** Liveness probe; default `process.kill(pid, 0)`. */
  readonly isProcessAlive?: (pid: number) => boolean;
  /**
   * A lock file this process holds (with this pid in it) on the same file system, hard-linked as
   * the new lock instead of a new candidate file: no inode is created. When that fails for a
   * reason other than a live owner (EXDEV: the directory is on another file system; EMLINK: the
   * file's link count is at its limit, 65,000 on ext4), a candidate is written as without it.
   */
  readonly linkFrom?: string;
}

/** Whether `pid` names a live process (EPERM means alive but owned by someone else). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return systemErrorCode(error) === 'EPERM';
  }
}

const TAKEOVER_ATTEMPTS_MAX = 3;

/**
 * Locks this process holds, as `pid:lockPath`. A lock file naming this process that is not here
 * was left by a release whose unlink failed (EIO): it is stale, and taken over like a dead
 * process's, or this process could never open the directory again (found by the storage-fault
 * simulation). Bounded by the locks held: each release removes its entry.
 */
const HELD_LOCKS = new Set<string>();

async function readLockPid(fileSystem: FileSystem, lockPath: string): Promise<number | undefined | null> {
  try {
    const text = new TextDecoder().decode(await fileSystem.readFile(lockPath)).trim();
    const pid = Number(text);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') {
      return null;
    }
    throw ioError(`cannot read lock file ${lockPath}`, error);
  }
}

/**
 * Creates `directory` if needed and locks it. Throws `LOG_LOCKED` (naming the owner's pid) when a
 * live process holds it, `LOG_NOT_WRITABLE` when the directory cannot be written, `LOG_DISK_FULL`
 * on ENOSPC.
 */
export async function acquireDirectoryLock(
  directory: string,
  options: DirectoryLockOptions = {},
): Promise<DirectoryLock> {
  const fileSystem = options.fileSystem ?? nodeFileSystem;
  const pid = options.pid ?? process.pid;
  const alive = options.isProcessAlive ?? isProcessAlive;
  const lockPath = path.join(directory, LOCK_FILE_NAME);
  try {
    await fileSystem.mkdir(directory);
  } catch (error) {
    throw notWritable(directory, error);
  }
  if (options.linkFrom !== undefined) {
    try {
      return await takeLock(fileSystem, directory, lockPath, options.linkFrom, pid, alive);
    } catch (error) {
      // Held by someone else: refused as without `linkFrom`. Any other failure (EXDEV, EMLINK,
      // EPERM on a file system without hard links) is retried below with a candidate of its own.
      if (error instanceof LogLockedError) throw error;
    }
  }
  const candidate = `${lockPath}.${pid}-${Math.random().toString(36).slice(2)}.candidate`;
  try {
    await writeCandidate(fileSystem, candidate, pid);
  } catch (error) {
    await fileSystem.unlink(candidate).catch(() => {});
    throw notWritable(directory, error);
  }
  try {
    return await takeLock(fileSystem, directory, lockPath, candidate, pid, alive);
  } finally {
    await fileSystem.unlink(candidate).catch(() => {});
  }
}

/** Links `candidate` (a file holding `pid`) to `lockPath`, taking over a stale lock found there. */
async function takeLock(
  fileSystem: FileSystem,
  directory: string,
  lockPath: string,
  candidate: string,
  pid: number,
  alive: (pid: number) => boolean,
): Promise<DirectoryLock> {
  for (let attempt = 0; attempt < TAKEOVER_ATTEMPTS_MAX; attempt++) {
    try {
      await fileSystem.link(candidate, lockPath);
    } catch (error) {
      if (systemErrorCode(error) !== 'EEXIST') throw notWritable(directory, error);
      const owner = await readLockPid(fileSystem, lockPath);
      if (owner === null) continue; // Removed between our link and read: try again.
      // A lock file always holds its pid (see above); one without is damaged, so it is stale.
      const leftByThisProcess = owner === pid && !HELD_LOCKS.has(`${pid}:${lockPath}`);
      if (owner !== undefined && alive(owner) && !leftByThisProcess) {
        throw locked(
          directory,
          owner === pid ? `this process (${pid}); close the other open first` : `process ${owner}`,
          owner,
        );
      }
      await fileSystem.unlink(lockPath).catch((unlinkError: unknown) => {
        if (systemErrorCode(unlinkError) !== 'ENOENT') throw notWritable(directory, unlinkError);
      });
      continue;
    }
    if ((await readLockPid(fileSystem, lockPath)) !== pid) {
      throw locked(directory, 'another process that took it over at the same moment');
    }
    HELD_LOCKS.add(`${pid}:${lockPath}`);
    return createHeldLock(fileSystem, lockPath, pid);
  }
  throw locked(directory, 'processes that keep re-creating the lock file');
}

async function writeCandidate(fileSystem: FileSystem, candidate: string, pid: number): Promise<void> {
  const fd = await fileSystem.open(candidate, 'w');
  try {
    await writeFully(fileSystem, fd, [new TextEncoder().encode(`${pid}\n`)], 0);
  } finally {
    await fileSystem.close(fd);
  }
}

function createHeldLock(fileSystem: FileSystem, lockPath: string, pid: number): DirectoryLock {
  let released: Promise<void> | undefined;
  return {
    path: lockPath,
    release() {
      released ??= (async () => {
        HELD_LOCKS.delete(`${pid}:${lockPath}`);
        // Only remove our own lock: after a takeover the file may belong to someone else. Nobody
        // takes over a live pid's lock, so a lock we cannot read (EIO) is still ours: remove it,
        // or this process could never open the directory again (found by the fault simulation).
        if ((await readLockPid(fileSystem, lockPath).catch(() => pid)) === pid) {
          await fileSystem.unlink(lockPath).catch(() => {});
        }
      })();
      return released;
    },
  };
}

function locked(directory: string, owner: string, pid?: number): LogLockedError {
  return new LogLockedError(
    directory,
    pid,
    `cannot open log at ${directory}: directory is locked by ${owner}; stop that process or use another directory`,
  );
}

function notWritable(directory: string, cause: unknown): LogError {
  const error = ioError(`cannot lock log directory ${directory}`, cause);
  if (error.code === 'LOG_IO' && systemErrorCode(cause) === 'ENOTDIR') {
    return new LogError(
      'LOG_NOT_WRITABLE',
      `cannot open log at ${directory}: a path component is not a directory; choose a directory path`,
      { cause },
    );
  }
  return error;
}
