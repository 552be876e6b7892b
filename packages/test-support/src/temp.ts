/**
 * Temporary directories for tests, removed when the process exits. Not in an `after` hook: a
 * module's hook runs before the hooks a test file registers later, and those are what stop the
 * servers and brokers still writing into these directories (an earlier bug: `herald serve` failed
 * to close because its data directory was already gone).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { atExit } from './exit-cleanup.ts';

const directories: string[] = [];
let cleanupRegistered = false;

function removeAll(): void {
  for (const directory of directories.splice(0)) {
    try {
      // A SIGKILLed child may still be dying and writing: retry a few times, then report.
      rmSync(directory, { recursive: true, force: true, maxRetries: 3 });
    } catch (error) {
      process.stderr.write(`could not remove the test directory ${directory}: ${(error as Error).message}\n`);
    }
  }
}

/**
 * A fresh empty directory under the OS temp directory (named `<prefix>XXXXXX`), removed when the
 * process exits, after every test hook has run. A test that must remove it earlier owns that
 * itself (`rmSync(directory, { recursive: true, force: true })`); removing it twice is harmless.
 */
export function temporaryDirectory(prefix = 'herald-test-'): string {
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    atExit('remove-directories', removeAll);
  }
  const directory = mkdtempSync(path.join(tmpdir(), prefix));
  directories.push(directory);
  return directory;
}

/** A temporary directory its caller owns: removed when disposed (`await using`), not at exit. */
export interface OwnedDirectory {
  /** The directory's path. */
  readonly directory: string;
  /** Removes the directory with everything in it; removing it twice is harmless. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A fresh empty directory under the OS temp directory that the caller removes, with
 * `await using scratch = await ownedTemporaryDirectory()` (or by calling its `Symbol.asyncDispose`
 * in a `finally`): for tests that make many and must not keep them until the process exits.
 */
export async function ownedTemporaryDirectory(prefix = 'herald-test-'): Promise<OwnedDirectory> {
  const directory = await mkdtemp(path.join(tmpdir(), prefix));
  return {
    directory,
    async [Symbol.asyncDispose]() {
      await rm(directory, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
