/**
 * Small metadata files (topic descriptions, group positions) replaced atomically: write
 * `<name>.tmp`, fsync it, rename it over `<name>`, fsync the directory. A crash leaves the old or
 * the new content, never a mix; the CRC line inside each file catches bit rot on top of that.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { BrokerCorruptError, BrokerStorageError } from './errors.ts';

/** Largest metadata file the broker reads; bigger means damage, not data. */
export const METADATA_FILE_BYTES_MAX = 4 * 1024 * 1024;

/** fsyncs a directory so creations, renames and deletions in it survive a crash. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await fs.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `file` with `text` atomically; `durable: false` skips both fsyncs. */
export async function writeTextAtomically(file: string, text: string, durable: boolean): Promise<void> {
  const temporary = `${file}.tmp`;
  try {
    const handle = await fs.open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(text);
      if (durable) await handle.datasync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, file);
    if (durable) await syncDirectory(path.dirname(file));
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
export async function writeChecked(file: string, value: unknown, durable: boolean): Promise<void> {
  const json = JSON.stringify(value);
  await writeTextAtomically(file, `${json}\ncrc32 ${crc32(json).toString(16)}\n`, durable);
}

/** Reads a file written by {@link writeChecked}; resolves undefined when it does not exist. */
export async function readChecked(file: string): Promise<unknown> {
  let text: string;
  try {
    const stat = await fs.stat(file);
    if (stat.size > METADATA_FILE_BYTES_MAX) {
      throw new BrokerCorruptError(
        `${file} is ${stat.size} bytes, over the ${METADATA_FILE_BYTES_MAX}-byte bound of a metadata file; ` +
          'it is damaged: restore it from a backup or remove it',
      );
    }
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
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
