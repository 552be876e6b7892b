/**
 * Test helpers: run the real `herald` binary as a user would (a child process of this Node, with
 * stdin, env and a deadline), start `herald serve` on a free port with a temp data dir, and wait
 * on conditions with deadlines. Nothing here sleeps for a fixed time.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bin under test. */
export const HERALD_BIN = fileURLToPath(new URL('../bin/herald.ts', import.meta.url));

/** A fresh empty directory. */
export function freshDirectory(prefix = 'herald-cli-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
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
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HERALD_BIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '', HERALD_BROKER: '', HERALD_DATA_DIR: '', ...options.env },
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
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
  const running = start(['serve', '--port', '0', '--data', dir]);
  await waitFor(
    () => /listening on [^\s]+:\d+/.test(running.stdout()) || running.child.exitCode !== null,
    () => `herald serve to listen:\n${running.stdout()}${running.stderr()}`,
  );
  const port = /listening on [^\s]+:(\d+)/.exec(running.stdout())?.[1];
  assert.ok(port !== undefined, `herald serve did not start:\n${running.stderr()}`);
  return {
    broker: `127.0.0.1:${port}`,
    pid: running.child.pid!,
    dir,
    async stop() {
      running.child.kill('SIGTERM');
      assert.equal(await running.exited(), 0, `herald serve exit code:\n${running.stderr()}`);
    },
  };
}

/** Rejects when `promise` does not settle within `timeoutMs`. */
export async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `condition()` holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: () => string,
  timeoutMs = 20_000,
  pollMs = 25,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
