/**
 * Helpers of the CLI tests: run the real `herald` binary as a user would (a child process of this
 * Node, with stdin, env and a deadline) and start `herald serve` with a checked clean exit. The
 * generic ones (child processes, deadlines, waits, temporary directories) come from
 * `@herald/test-support`.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import {
  type Child,
  HERALD_BIN,
  runTool,
  spawnChild,
  startServe as startServeProcess,
  temporaryDirectory,
  withDeadline,
} from '@herald/test-support';

/**
 * Every command a test started with `start`: whatever is still running when the file's tests are
 * done (an assertion failed before the test stopped it) is killed in the first `after` hook.
 * Servers are left to the file's own `after` hook (registered after this module's), which stops a
 * shared server and checks its exit code; test-support kills any left when the process exits.
 */
const commands = new Set<Child>();
after(() => {
  for (const command of commands) command.process.kill('SIGKILL');
});

/** The environment every `herald` run gets: no colour, no broker or data directory from the caller's shell. */
const CLEAN_ENV: NodeJS.ProcessEnv = { NO_COLOR: '', HERALD_BROKER: '', HERALD_DATA_DIR: '' };

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
    env: { ...process.env, ...CLEAN_ENV, ...options.env },
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
  const command = spawnChild(process.execPath, [HERALD_BIN, ...args], {
    env: { ...CLEAN_ENV, ...options.env },
    ...(options.input === undefined ? {} : { input: options.input }),
  });
  commands.add(command);
  const forget = () => commands.delete(command);
  void command.exited.then(forget, forget);
  return {
    child: command.process,
    stdout: () => command.stdout(),
    stderr: () => command.stderr(),
    exited: (timeoutMs = 15_000) =>
      withDeadline(command.exited, timeoutMs, `herald ${args.join(' ')} to exit`),
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
export async function startServe(dir = temporaryDirectory('herald-cli-test-')): Promise<Serve> {
  const serve = await startServeProcess({ dir, env: CLEAN_ENV });
  return {
    broker: serve.bootstrap,
    pid: serve.pid,
    dir,
    async stop() {
      assert.equal(await serve.stop(), 0, `herald serve exit code:\n${serve.output()}`);
    },
  };
}
