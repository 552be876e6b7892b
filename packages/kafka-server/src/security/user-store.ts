/**
 * SASL users of a data directory: `<dir>/security/users.json`, holding per user the salted SCRAM
 * credentials of both SHA-256 and SHA-512 (never the password). Written atomically (temporary
 * file, fsync, rename, fsync of the directory), so a crash leaves the old or the new list. A
 * running server re-reads the file when its modification time or size changes, so `herald users
 * add|remove` takes effect for the next authentication without a restart.
 */
import path from 'node:path';
import { KafkaServerConfigError } from '../config-error.ts';
import {
  damagedFileError,
  fileVersion,
  readJsonFile,
  type SecurityFile,
  writeJsonFile,
} from './json-file.ts';
import {
  deriveCredential,
  SCRAM_ITERATIONS_MAX,
  SCRAM_ITERATIONS_MIN,
  type ScramCredential,
  type ScramMechanism,
} from './scram.ts';

/** One stored user. */
export interface StoredUser {
  readonly name: string;
  readonly credentials: Readonly<Record<ScramMechanism, ScramCredential>>;
}

/** Most users one file holds (the whole list is kept in memory by the server). */
export const USERS_MAX = 10_000;
/** Largest users file read. */
const USERS_FILE_BYTES_MAX = 16 * 1024 * 1024;

const USER_NAME = /^[A-Za-z0-9._@-]{1,128}$/;

/** Path of the users file of data directory `dir`. */
export function usersFile(dir: string): string {
  return path.join(dir, 'security', 'users.json');
}

/** Throws unless `name` is a valid user name (1-128 of A-Z a-z 0-9 . _ @ -). */
export function checkUserName(name: string): void {
  if (!USER_NAME.test(name)) {
    throw new KafkaServerConfigError(
      `invalid user name "${name}": use 1 to 128 letters, digits, ".", "_", "@" or "-"`,
    );
  }
}

/** The users file of `dir`, as {@link readJsonFile} reads it. */
function usersSecurityFile(dir: string): SecurityFile {
  return {
    file: usersFile(dir),
    bytesMax: USERS_FILE_BYTES_MAX,
    remedy: 'restore it from a backup or recreate the users',
  };
}

function parseUsers(parsed: unknown, security: SecurityFile): Map<string, StoredUser> {
  const broken = (why: string) => damagedFileError(security, why);
  const users = (parsed as { users?: unknown } | null)?.users;
  if (!Array.isArray(users) || users.length > USERS_MAX) throw broken('no users list');
  const result = new Map<string, StoredUser>();
  for (const user of users as StoredUser[]) {
    if (typeof user?.name !== 'string' || typeof user.credentials !== 'object') throw broken('bad user');
    for (const credential of Object.values(user.credentials)) {
      const { iterations } = credential;
      if (
        !Number.isInteger(iterations) ||
        iterations < SCRAM_ITERATIONS_MIN ||
        iterations > SCRAM_ITERATIONS_MAX
      ) {
        throw broken(`iterations of ${user.name} out of range`);
      }
    }
    result.set(user.name, user);
  }
  return result;
}

/** Reads the users of `dir` (empty when there is no file). */
export async function readUsers(dir: string): Promise<Map<string, StoredUser>> {
  const security = usersSecurityFile(dir);
  const parsed = await readJsonFile(security);
  return parsed === undefined ? new Map() : parseUsers(parsed, security);
}

function writeUsers(dir: string, users: Map<string, StoredUser>): Promise<void> {
  return writeJsonFile(usersFile(dir), { users: [...users.values()] });
}

/** Adds `name` or replaces its password; resolves true when the user is new. */
export async function addUser(
  dir: string,
  name: string,
  password: string,
  iterations: number = SCRAM_ITERATIONS_MIN,
): Promise<boolean> {
  checkUserName(name);
  if (password.length === 0) throw new KafkaServerConfigError('the password must not be empty');
  if (
    !Number.isInteger(iterations) ||
    iterations < SCRAM_ITERATIONS_MIN ||
    iterations > SCRAM_ITERATIONS_MAX
  ) {
    throw new KafkaServerConfigError(
      `iterations must be an integer from ${SCRAM_ITERATIONS_MIN} to ${SCRAM_ITERATIONS_MAX}`,
    );
  }
  const users = await readUsers(dir);
  const isNew = !users.has(name);
  if (isNew && users.size >= USERS_MAX) {
    throw new KafkaServerConfigError(`at most ${USERS_MAX} users; remove unused ones first`);
  }
  users.set(name, {
    name,
    credentials: {
      'SCRAM-SHA-256': await deriveCredential('SCRAM-SHA-256', password, iterations),
      'SCRAM-SHA-512': await deriveCredential('SCRAM-SHA-512', password, iterations),
    },
  });
  await writeUsers(dir, users);
  return isNew;
}

/** Removes `name`; resolves false when there was no such user. */
export async function removeUser(dir: string, name: string): Promise<boolean> {
  const users = await readUsers(dir);
  if (!users.delete(name)) return false;
  await writeUsers(dir, users);
  return true;
}

/** Names of the users of `dir`, sorted. */
export async function listUsers(dir: string): Promise<string[]> {
  return [...(await readUsers(dir)).keys()].sort();
}

/**
 * The server's view of the users file: {@link lookup} answers from memory; {@link refresh}
 * re-reads the file when its modification time or size changed (one `stat`, called before each
 * authentication). A damaged file keeps the last good list and is reported once per change.
 */
export class UserDirectory {
  readonly #dir: string;
  readonly #onError: (error: unknown) => void;
  #users = new Map<string, StoredUser>();
  #version = '';

  constructor(dir: string, onError: (error: unknown) => void) {
    this.#dir = dir;
    this.#onError = onError;
  }

  /** Loads the file if it changed since the last call; never rejects (problems go to `onError`). */
  async refresh(): Promise<void> {
    let version: string;
    try {
      version = await fileVersion(usersFile(this.#dir));
    } catch (error) {
      // Keep the last good list: an unreadable file must not lock everybody out, nor let anyone in.
      this.#onError(error);
      return;
    }
    if (version === this.#version) return;
    this.#version = version;
    try {
      this.#users = await readUsers(this.#dir);
    } catch (error) {
      this.#onError(error);
    }
  }

  /** The credential of `user` for `mechanism`, if the user exists. */
  lookup(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.#users.get(user)?.credentials[mechanism];
  }

  /** Users known now. */
  get size(): number {
    return this.#users.size;
  }
}
