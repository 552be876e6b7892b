/**
 * Test helpers for suites that talk to a real `herald serve`: start it as a child process of this
 * Node on a free (or given) port and wait until it listens, stop or kill it, and wait on promises
 * and conditions with deadlines. Nothing here sleeps for a fixed time. Node built-ins only.
 *
 * @example
 * ```ts
 * import { startServe } from '@herald/kafka-server/testing';
 *
 * const serve = await startServe({ dir: mkdtempSync(join(tmpdir(), 'serve-')), partitions: 4 });
 * // ... connect a Kafka client to serve.bootstrap ...
 * assert.equal(await serve.stop(), 0);
 * ```
 *
 * @module
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { requireTool, withDeadline } from '@herald/bus/testing';

export { requireTool, withDeadline };

/** The `herald` bin of this monorepo (`packages/cli/bin/herald.ts`), run by {@link startServe}. */
export const HERALD_BIN: string = fileURLToPath(new URL('../../cli/bin/herald.ts', import.meta.url));

/** Options of {@link startServe}. */
export interface StartServeOptions {
  /** The data directory (`--data`). */
  readonly dir: string;
  /** The port to listen on (`--port`); 0, the default, picks a free one. */
  readonly port?: number;
  /** Partitions per new topic (`--partitions`); the server's default when omitted. */
  readonly partitions?: number;
  /** Variables added to this process's environment for the child. */
  readonly env?: NodeJS.ProcessEnv;
  /** The `herald` bin to run; {@link HERALD_BIN} by default. */
  readonly bin?: string;
  /** How long to wait for the server to listen; 20 s by default. */
  readonly startTimeoutMs?: number;
}

/** A `herald serve` child process that is listening. */
export interface ServeProcess {
  /** The child process. */
  readonly child: ChildProcess;
  /** The port it listens on. */
  readonly port: number;
  /** `127.0.0.1:<port>`, for a Kafka client's bootstrap brokers. */
  readonly bootstrap: string;
  /** Its data directory. */
  readonly dir: string;
  /** Resolves the exit code once the process exits (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Its stdout and stderr so far, interleaved (for failure messages). */
  output(): string;
  /** SIGTERM; resolves the exit code (rejects when it does not exit within `timeoutMs`, 15 s by default). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL; resolves once the process is gone (rejects after `timeoutMs`, 15 s by default). */
  kill(timeoutMs?: number): Promise<void>;
}

/**
 * Starts `herald serve --port <port> --data <dir>` as a child process and resolves once it prints
 * that it listens. Rejects with its output when it exits first or does not listen in time (then
 * it is killed with SIGKILL, so a failed start leaves no process behind).
 */
export async function startServe(options: StartServeOptions): Promise<ServeProcess> {
  const args = [
    options.bin ?? HERALD_BIN,
    'serve',
    '--port',
    String(options.port ?? 0),
    '--data',
    options.dir,
  ];
  if (options.partitions !== undefined) args.push('--partitions', String(options.partitions));
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`herald serve did not start within ${startTimeoutMs / 1000} s:\n${output}`));
    }, startTimeoutMs);
    const check = () => {
      const match = /listening on [^\s]+:(\d+)/.exec(output);
      if (match === null) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve(Number(match[1]));
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`herald serve exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    child,
    port,
    bootstrap: `127.0.0.1:${port}`,
    dir: options.dir,
    exited,
    output: () => output,
    stop(timeoutMs = 15_000) {
      child.kill('SIGTERM');
      return withDeadline(exited, timeoutMs, 'herald serve to stop');
    },
    async kill(timeoutMs = 15_000) {
      child.kill('SIGKILL');
      await withDeadline(exited, timeoutMs, 'herald serve to die');
    },
  };
}

/**
 * Resolves once `condition()` holds, polling every `pollMs`; fails (an `AssertionError`) naming
 * `what()` after `timeoutMs`.
 */
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

/** What {@link runTool} resolves: exit code (null when killed) and the collected output. */
export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs an external program with optional stdin; kills it after `timeoutMs` (then code is null). */
export function runTool(
  command: string,
  args: readonly string[],
  options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
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
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
