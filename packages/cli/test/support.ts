/**
 * Test helpers: run the real `herald` binary as a user would (a child process of this Node, with
 * stdin, env and a deadline), start `herald serve` on a free port with a temp data dir, and wait
 * on conditions with deadlines. Nothing here sleeps for a fixed time.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runTool, startServe as startServeProcess, withDeadline } from '@herald/kafka-server/testing';

export { waitFor, withDeadline } from '@herald/kafka-server/testing';

/**
 * Every child a test started (`start`, `startServe`): whatever is still running when the file's
 * tests are done (an assertion failed before the test stopped it) is killed, so none outlives it.
 * Commands are killed in the first `after` hook; servers only when the process exits, because a
 * file's own `after` hook (registered after this module's) is what stops its shared server and
 * checks the exit code.
 */
const children = new Set<ChildProcess>();
const servers = new Set<ChildProcess>();
function adopt(child: ChildProcess, owners = children): void {
  owners.add(child);
  child.once('exit', () => owners.delete(child));
}
after(() => {
  for (const child of children) child.kill('SIGKILL');
});
process.once('exit', () => {
  for (const server of servers) server.kill('SIGKILL');
  // Last, once every hook (a file's own `after` stops its shared server) has run.
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** The bin under test. */
export const HERALD_BIN = fileURLToPath(new URL('../bin/herald.ts', import.meta.url));

/** Directories of {@link freshDirectory}, removed when the process exits (see above). */
const directories: string[] = [];

/** A fresh empty directory, removed after the file's tests. */
export function freshDirectory(prefix = 'herald-cli-test-'): string {
  const directory = mkdtempSync(path.join(tmpdir(), prefix));
  directories.push(directory);
  return directory;
}

/** What a finished `herald` run printed and returned. */
export interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link herald}. */
export interface RunOptions {
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/** Runs `herald ...args` to completion (killed after the deadline, then `code` is null). */
export function herald(args: readonly string[], options: RunOptions = {}): Promise<Result> {
  return runTool(process.execPath, [HERALD_BIN, ...args], {
    input: options.input ?? '',
    timeoutMs: options.timeoutMs ?? 30_000,
    env: { ...process.env, NO_COLOR: '', HERALD_BROKER: '', HERALD_DATA_DIR: '', ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
}

/** Runs `herald` and asserts exit code 0, showing stderr otherwise. */
export async function heraldOk(args: readonly string[], options: RunOptions = {}): Promise<Result> {
  const result = await herald(args, options);
  assert.equal(result.code, 0, `herald ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
  return result;
}

/** Parses the JSON lines of `text`. */
export function jsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
}

/** A `herald` left running (a follower), with its output so far. */
export interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves the exit code once it exits (fails after the deadline). */
  exited(timeoutMs?: number): Promise<number | null>;
}

/** Starts `herald ...args` without waiting for it. */
export function start(args: readonly string[], options: RunOptions = {}): Running {
  const child = spawn(process.execPath, [HERALD_BIN, ...args], {
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '', HERALD_BROKER: '', HERALD_DATA_DIR: '', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  adopt(child);
  if (options.input !== undefined) child.stdin!.write(options.input); // left open: more may come
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited: (timeoutMs = 15_000) => withDeadline(exit, timeoutMs, `herald ${args.join(' ')} to exit`),
  };
}

/** A running `herald serve`. */
export interface Serve {
  readonly broker: string;
  /** Pid of the server, which holds the data directory's lock. */
  readonly pid: number;
  readonly dir: string;
  /** SIGTERM and wait for exit 0. */
  stop(): Promise<void>;
}

/** Starts `herald serve --port 0` on `dir` and resolves once it listens. */
export async function startServe(dir = freshDirectory()): Promise<Serve> {
  const serve = await startServeProcess({
    dir,
    bin: HERALD_BIN,
    env: { NO_COLOR: '', HERALD_BROKER: '', HERALD_DATA_DIR: '' },
  });
  adopt(serve.child, servers);
  return {
    broker: serve.bootstrap,
    pid: serve.child.pid!,
    dir,
    async stop() {
      assert.equal(await serve.stop(), 0, `herald serve exit code:\n${serve.output()}`);
    },
  };
}
