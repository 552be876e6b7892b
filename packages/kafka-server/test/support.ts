/**
 * Test helpers: a `herald serve` child process on a free port with a temp data dir, a runner for
 * external clients (kcat, python3) with a deadline, and condition waits. Nothing here sleeps for
 * a fixed time.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERALD_BIN = fileURLToPath(new URL('../../cli/bin/herald.ts', import.meta.url));

/** A fresh empty directory. */
export function freshDirectory(prefix = 'herald-kafka-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A running `herald serve`. */
export interface Serve {
  readonly port: number;
  readonly bootstrap: string;
  readonly dir: string;
  readonly child: ChildProcess;
  /** Output so far (for failure messages). */
  output(): string;
  /** SIGTERM and wait for a clean exit (asserts exit code 0). */
  stop(): Promise<void>;
  /** SIGKILL and wait for the process to be gone. */
  kill(): Promise<void>;
}

/** Starts `herald serve --port 0` on `dir` and resolves once it listens. */
export async function startServe(options: { dir?: string; partitions?: number } = {}): Promise<Serve> {
  const dir = options.dir ?? freshDirectory();
  const args = [
    HERALD_BIN,
    'serve',
    '--port',
    '0',
    '--data',
    dir,
    '--partitions',
    String(options.partitions ?? 4),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`herald serve did not start within 20 s:\n${output}`)),
      20_000,
    );
    const check = () => {
      const match = /listening on [^\s]+:(\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`herald serve exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    port,
    bootstrap: `127.0.0.1:${port}`,
    dir,
    child,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      const code = await withDeadline(exited, 15_000, 'herald serve to stop');
      assert.equal(code, 0, `herald serve exit code; output:\n${output}`);
    },
    async kill() {
      child.kill('SIGKILL');
      await withDeadline(exited, 15_000, 'herald serve to die');
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

/** What {@link runTool} collected. */
export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs an external program with optional stdin; kills it after `timeoutMs` (then code is null). */
export function runTool(
  command: string,
  args: readonly string[],
  options: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
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

/** Resolves once `condition()` holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: () => string,
  timeoutMs = 20_000,
  pollMs = 50,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Runs kcat against `bootstrap`, failing the test on a non-zero exit. */
export async function kcat(
  bootstrap: string,
  args: readonly string[],
  input?: string,
  timeoutMs = 60_000,
): Promise<ToolResult> {
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
