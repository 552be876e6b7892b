/**
 * Test helpers: a `herald serve` child process on a free port with a temp data dir, a runner for
 * external clients (kcat, python3) with a deadline, and condition waits. Nothing here sleeps for
 * a fixed time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  requireTool,
  runTool,
  type ServeProcess,
  startServe as startServeProcess,
  type ToolResult,
} from '@herald/kafka-server/testing';

export { requireTool, runTool, type ToolResult, waitFor, withDeadline } from '@herald/kafka-server/testing';

const directories: string[] = [];
// When the process exits: a module's `after` hook would run before the file's own hooks (those
// registered later), which stop the servers and brokers still using these directories.
process.once('exit', () => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A fresh empty directory, removed after the file's tests. */
export function freshDirectory(prefix = 'herald-kafka-test-'): string {
  const directory = mkdtempSync(path.join(tmpdir(), prefix));
  directories.push(directory);
  return directory;
}

/** A running `herald serve`. */
export interface Serve extends Omit<ServeProcess, 'stop'> {
  /** SIGTERM and wait for a clean exit (asserts exit code 0). */
  stop(): Promise<void>;
}

/** Options of {@link startServe}. */
export interface ServeOptions {
  /** Data directory (default: a fresh one). */
  readonly dir?: string;
  /** Partitions of auto-created topics (default 4). */
  readonly partitions?: number;
  /** A script to run instead of the `herald` bin, with the same arguments (a test stand-in). */
  readonly bin?: string;
  /** Variables added to the server's environment. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Starts `herald serve --port 0` on `dir` and resolves once it listens. */
export async function startServe(options: ServeOptions = {}): Promise<Serve> {
  const serve = await startServeProcess({
    dir: options.dir ?? freshDirectory(),
    partitions: options.partitions ?? 4,
    ...(options.bin === undefined ? {} : { bin: options.bin }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  return {
    ...serve,
    async stop() {
      assert.equal(await serve.stop(), 0, `herald serve exit code; output:\n${serve.output()}`);
    },
  };
}

/** What {@link runTool} collected. */
let kcatChecked = false;

/**
 * Runs kcat against `bootstrap`, failing the test on a non-zero exit; without kcat installed it
 * fails at once saying `run npm run setup`.
 */
export async function kcat(
  bootstrap: string,
  args: readonly string[],
  input?: string,
  timeoutMs = 60_000,
): Promise<ToolResult> {
  if (!kcatChecked) {
    requireTool('kcat', ['-V'], "kcat (Debian's kcat)");
    kcatChecked = true;
  }
  const result = await runTool('kcat', ['-b', bootstrap, ...args], {
    ...(input === undefined ? {} : { input }),
    timeoutMs,
  });
  assert.equal(result.code, 0, `kcat ${args.join(' ')} failed:\n${result.stderr}`);
  return result;
}

/** Lines of `text` without the empty last one. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}
