/**
 * The narrow file-system interface the log uses. Production code uses {@link nodeFileSystem};
 * tests wrap it to inject failures (a failing fdatasync, a full disk) without monkeypatching
 * globals. Every call is positional (no shared file position), so reads may run concurrently with
 * the single writer.
 */

import fs from 'node:fs';

/** What `stat` reports. */
export interface FileStats {
  /** Size in bytes. */
  readonly size: number;
  /** Last modification time in ms since the epoch. */
  readonly mtimeMs: number;
  /** Whether the path is a directory. */
  readonly isDirectory: boolean;
}

/** File-system operations used by the log; all paths are absolute or relative to the cwd. */
export interface FileSystem {
  /**
   * Opens `path` with `flags` (`r`, `r+`, `w`, `wx`, ...); resolves a file descriptor. `mode` is
   * the permission of a file it creates (default 0o644).
   */
  open(path: string, flags: string, mode?: number): Promise<number>;
  /** Closes a descriptor. */
  close(fd: number): Promise<void>;
  /** Reads up to `length` bytes at file position `position` into `buffer[offset..]`; resolves bytes read. */
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Writes `buffers` back to back at file position `position`; resolves bytes written (may be short). */
  writev(fd: number, buffers: readonly Uint8Array[], position: number): Promise<number>;
  /** Flushes file data (and the metadata needed to read it back) to stable storage. */
  fdatasync(fd: number): Promise<void>;
  /** Flushes data and all metadata; used on directories so renames and creations survive a crash. */
  fsync(fd: number): Promise<void>;
  /** Truncates an open file to `length` bytes. */
  ftruncate(fd: number, length: number): Promise<void>;
  /** Size, mtime and kind of `path`. */
  stat(path: string): Promise<FileStats>;
  /** Names in a directory. */
  readdir(path: string): Promise<string[]>;
  /** Creates a directory and its parents. */
  mkdir(path: string): Promise<void>;
  /** Renames atomically within one file system. */
  rename(from: string, to: string): Promise<void>;
  /** Creates `newPath` as a hard link to `existing`; fails with EEXIST if `newPath` exists. */
  link(existing: string, newPath: string): Promise<void>;
  /** Removes a file. */
  unlink(path: string): Promise<void>;
  /** Removes a directory tree. */
  removeTree(path: string): Promise<void>;
  /** Reads a whole (small) file. */
  readFile(path: string): Promise<Uint8Array>;
}

function callback<T>(
  run: (done: (error: NodeJS.ErrnoException | null, value?: T) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    run((error, value) => (error === null ? resolve(value as T) : reject(error)));
  });
}

/**
 * The real file system through `node:fs` callbacks (measurably cheaper per call than
 * `fs/promises` FileHandles on the append hot path).
 */
export const nodeFileSystem: FileSystem = {
  open: (path, flags, mode = 0o644) => callback((done) => fs.open(path, flags, mode, done)),
  close: (fd) => callback((done) => fs.close(fd, done)),
  read: (fd, buffer, offset, length, position) =>
    callback((done) =>
      fs.read(fd, buffer, offset, length, position, (error, bytesRead) => done(error, bytesRead)),
    ),
  writev: (fd, buffers, position) =>
    callback((done) =>
      fs.writev(fd, buffers as Uint8Array[], position, (error, bytesWritten) => done(error, bytesWritten)),
    ),
  fdatasync: (fd) => callback((done) => fs.fdatasync(fd, done)),
  fsync: (fd) => callback((done) => fs.fsync(fd, done)),
  ftruncate: (fd, length) => callback((done) => fs.ftruncate(fd, length, done)),
  stat: (path) =>
    callback((done) =>
      fs.stat(path, (error, stats) =>
        done(
          error,
          error === null
            ? { size: stats.size, mtimeMs: stats.mtimeMs, isDirectory: stats.isDirectory() }
            : undefined,
        ),
      ),
    ),
  readdir: (path) => callback((done) => fs.readdir(path, done)),
  mkdir: (path) => callback((done) => fs.mkdir(path, { recursive: true }, (error) => done(error))),
  rename: (from, to) => callback((done) => fs.rename(from, to, done)),
  link: (existing, newPath) => callback((done) => fs.link(existing, newPath, done)),
  unlink: (path) => callback((done) => fs.unlink(path, done)),
  removeTree: (path) => callback((done) => fs.rm(path, { recursive: true, force: true }, done)),
  readFile: (path) => callback((done) => fs.readFile(path, done)),
};

/** Writes all of `buffers` at `position`, looping over short writes (bounded by the bytes left). */
export async function writeFully(
  fileSystem: FileSystem,
  fd: number,
  buffers: readonly Uint8Array[],
  position: number,
): Promise<void> {
  let pending = buffers;
  let at = position;
  let total = 0;
  for (const buffer of buffers) {
    total += buffer.length;
  }
  let written = 0;
  // Each iteration writes at least one byte or throws, so the loop ends within `total` iterations.
  for (let attempt = 0; attempt <= total && written < total; attempt++) {
    const count = await fileSystem.writev(fd, pending, at);
    if (count <= 0) {
      throw Object.assign(new Error(`write returned ${count} bytes`), { code: 'EIO' });
    }
    written += count;
    at += count;
    if (written < total) {
      pending = dropPrefix(pending, count);
    }
  }
}

function dropPrefix(buffers: readonly Uint8Array[], count: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  let skip = count;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
    } else {
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
  }
  return rest;
}

/** Reads exactly `length` bytes at `position`, or fewer only at end of file; resolves the bytes read. */
export async function readFully(
  fileSystem: FileSystem,
  fd: number,
  buffer: Uint8Array,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const count = await fileSystem.read(fd, buffer, done, length - done, position + done);
    if (count === 0) {
      break;
    }
    done += count;
  }
  return done;
}

/** fsyncs a directory so that file creations, renames and deletions in it survive a crash. */
export async function syncDirectory(fileSystem: FileSystem, path: string): Promise<void> {
  const fd = await fileSystem.open(path, 'r');
  try {
    await fileSystem.fsync(fd);
  } finally {
    await fileSystem.close(fd);
  }
}

/**
 * Replaces `path` atomically with `bytes`: write `path.tmp`, fdatasync, rename over `path`, fsync
 * the directory. A crash leaves either the old or the new content, never a mix.
 */
export async function writeFileAtomically(
  fileSystem: FileSystem,
  directory: string,
  path: string,
  bytes: Uint8Array,
): Promise<void> {
  const temporary = `${path}.tmp`;
  const fd = await fileSystem.open(temporary, 'w');
  try {
    await writeFully(fileSystem, fd, [bytes], 0);
    await fileSystem.fdatasync(fd);
  } finally {
    await fileSystem.close(fd);
  }
  await fileSystem.rename(temporary, path);
  await syncDirectory(fileSystem, directory);
}
