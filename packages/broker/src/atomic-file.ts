/**
 * Small metadata files (topic descriptions, group positions) replaced atomically: write
 * `<name>.tmp`, fsync it, rename it over `<name>`, fsync the directory. A crash leaves the old or
 * the new content, never a mix; the CRC line inside each file catches bit rot on top of that.
 *
 * Every function takes the broker's {@link FileSystem} (the log's interface), so the whole data
 * directory, metadata included, goes through one injectable file system: the storage-fault
 * simulation and the I/O-error-at-every-operation test run the broker on an in-memory one.
 */
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { FileSystem } from '@herald/log';
import { BrokerCorruptError, BrokerStorageError } from './errors.ts';

/** Largest metadata file the broker reads; bigger means damage, not data. */
export const METADATA_FILE_BYTES_MAX = 4 * 1024 * 1024;

/** Permissions of the broker's metadata files: they may name groups and topics, so owner only. */
export const METADATA_FILE_MODE = 0o600;

/** The `code` of a system error (`ENOENT`, `EIO`, ...), or undefined. */
export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** fsyncs a directory so creations, renames and deletions in it survive a crash. */
export async function syncDirectory(fileSystem: FileSystem, directory: string): Promise<void> {
  const fd = await fileSystem.open(directory, 'r');
  try {
    await fileSystem.fsync(fd);
  } finally {
    await fileSystem.close(fd);
  }
}

/**
 * Writes all of `bytes` at `position` of `fd`, looping over short writes. Bounded: each write
 * moves at least one byte or the loop throws, so it ends within `bytes.byteLength` iterations.
 */
export async function writeAll(
  fileSystem: FileSystem,
  fd: number,
  bytes: Uint8Array,
  position: number,
): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    const count = await fileSystem.writev(fd, [bytes.subarray(written)], position + written);
    if (count <= 0) throw Object.assign(new Error(`write returned ${count} bytes`), { code: 'EIO' });
    written += count;
  }
}

/** Removes `file`; a file already gone is fine. */
export async function removeFile(fileSystem: FileSystem, file: string): Promise<void> {
  try {
    await fileSystem.unlink(file);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

/** Replaces `file` with `text` atomically; `durable: false` skips both fsyncs. */
export async function writeTextAtomically(
  fileSystem: FileSystem,
  file: string,
  text: string,
  durable: boolean,
): Promise<void> {
  const temporary = `${file}.tmp`;
  try {
    const fd = await fileSystem.open(temporary, 'w', METADATA_FILE_MODE);
    try {
      await writeAll(fileSystem, fd, new TextEncoder().encode(text), 0);
      if (durable) await fileSystem.fdatasync(fd);
    } finally {
      await fileSystem.close(fd);
    }
    await fileSystem.rename(temporary, file);
    if (durable) await syncDirectory(fileSystem, path.dirname(file));
  } catch (error) {
    throw new BrokerStorageError(
      `cannot write ${file}: ${(error as Error).message}; check free space and permissions`,
      error,
    );
  }
}

/**
 * Writes `value` as JSON with a CRC-32 of the JSON text on a second line. Reading it back with
 * {@link readChecked} verifies both.
 */
export async function writeChecked(
  fileSystem: FileSystem,
  file: string,
  value: unknown,
  durable: boolean,
): Promise<void> {
  const json = JSON.stringify(value);
  await writeTextAtomically(fileSystem, file, `${json}\ncrc32 ${crc32(json).toString(16)}\n`, durable);
}

/** Reads a file written by {@link writeChecked}; resolves undefined when it does not exist. */
export async function readChecked(fileSystem: FileSystem, file: string): Promise<unknown> {
  let text: string;
  try {
    const stat = await fileSystem.stat(file);
    if (stat.size > METADATA_FILE_BYTES_MAX) {
      throw new BrokerCorruptError(
        `${file} is ${stat.size} bytes, over the ${METADATA_FILE_BYTES_MAX}-byte bound of a metadata file; ` +
          'it is damaged: restore it from a backup or remove it',
      );
    }
    text = new TextDecoder().decode(await fileSystem.readFile(file));
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    if (error instanceof BrokerCorruptError) throw error;
    throw new BrokerStorageError(`cannot read ${file}: ${(error as Error).message}`, error);
  }
  const match = /^(.*)\ncrc32 ([0-9a-f]+)\n$/s.exec(text);
  if (match === null || crc32(match[1]!).toString(16) !== match[2]) {
    throw new BrokerCorruptError(
      `${file} is damaged (format or CRC mismatch); restore it from a backup, or remove it ` +
        '(a removed offsets file restarts its group from the earliest message)',
    );
  }
  try {
    return JSON.parse(match[1]!);
  } catch (error) {
    throw new BrokerCorruptError(`${file} holds invalid JSON: ${(error as Error).message}`);
  }
}
