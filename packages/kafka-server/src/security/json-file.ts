/**
 * The JSON files of `<dir>/security` (users, ACLs): read with a bound and a typed error that names
 * the file and what to do, and replaced crash-safely (a uniquely named temporary file, fsync,
 * rename, fsync of the directory), so a crash leaves the old or the new content, never a mix.
 *
 * Not the broker's `atomic-file.ts`: that one writes a fixed `<name>.tmp` (the broker is the only
 * writer of its files, but two `herald users add` commands may write one security file at once),
 * reads its own CRC-lined format (these files are plain JSON an operator can read), and raises the
 * broker's storage errors.
 */
import { randomBytes } from 'node:crypto';
import fsPromises from 'node:fs/promises';
import path from 'node:path';
import { KafkaServerConfigError } from '../config-error.ts';

/** A security file and what its operator does when it is damaged. */
export interface SecurityFile {
  /** The file's path. */
  readonly file: string;
  /** Largest file read; a larger one is taken as damaged. */
  readonly bytesMax: number;
  /** What to do when it is damaged, e.g. `restore it from a backup or recreate the users`. */
  readonly remedy: string;
}

/** Permissions of the security directory and its files: credentials and ACLs, so owner only. */
const DIRECTORY_MODE = 0o700;
const FILE_MODE = 0o600;

/** The error of a damaged `security` file: its path, what is wrong (`why`) and its remedy. */
export function damagedFileError(security: SecurityFile, why: string): KafkaServerConfigError {
  return new KafkaServerConfigError(`${security.file} is damaged (${why}); ${security.remedy}`);
}

/**
 * Reads `security.file` as JSON; resolves undefined when it does not exist. Throws
 * {@link damagedFileError} when it is larger than `bytesMax` or is not JSON; other I/O errors
 * (permissions) reject as they are.
 */
export async function readJsonFile(security: SecurityFile): Promise<unknown> {
  let text: string;
  try {
    const stat = await fsPromises.stat(security.file);
    if (stat.size > security.bytesMax) {
      throw damagedFileError(security, `${stat.size} bytes, over the ${security.bytesMax}-byte bound`);
    }
    text = await fsPromises.readFile(security.file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw damagedFileError(security, (error as Error).message);
  }
}

/**
 * A stamp that changes whenever `file` is replaced or rewritten (modification time, size, inode),
 * or `absent`: a server re-reads a security file only when its stamp changed. Other `stat`
 * failures (permissions) reject.
 */
export async function fileVersion(file: string): Promise<string> {
  try {
    const stat = await fsPromises.stat(file);
    return `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw error;
  }
}

/** Replaces `file` with `value` as indented JSON, crash-safely; creates its directory if need be. */
export async function writeJsonFile(file: string, value: unknown): Promise<void> {
  const directory = path.dirname(file);
  await fsPromises.mkdir(directory, { recursive: true, mode: DIRECTORY_MODE });
  // A unique temporary name, so two concurrent writers (two CLI commands) never write one file.
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await fsPromises.open(temporary, 'wx', FILE_MODE);
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 1)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsPromises.rename(temporary, file);
  const directoryHandle = await fsPromises.open(directory, 'r');
  try {
    await directoryHandle.sync();
  } finally {
    await directoryHandle.close();
  }
}
