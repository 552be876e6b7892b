/**
 * Test helpers: `herald serve` as a child process on a free port and a temp data dir, which can be
 * killed (-9) and started again on the same port and data, plus condition waits with deadlines.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERALD_BIN = fileURLToPath(new URL('../../cli/bin/herald.ts', import.meta.url));

/** A fresh empty directory. */
export function freshDirectory(prefix = 'herald-transport-kafka-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A `herald serve` that survives restarts under one address. */
export class Serve {
  readonly dir: string;
  readonly partitions: number;
  port = 0;
  #child: ChildProcess | undefined;
  #exited: Promise<number | null> = Promise.resolve(null);
  #output = '';

  constructor(dir: string, partitions: number) {
    this.dir = dir;
    this.partitions = partitions;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The server's pid (for tests that report it). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  output(): string {
    return this.#output;
  }

  /** Starts the server (on `port` when it ran before, else on a free one) and waits until it listens. */
  async start(): Promise<void> {
    const args = [HERALD_BIN, 'serve', '--port', String(this.port), '--data', this.dir];
    args.push('--partitions', String(this.partitions));
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      this.#output += chunk.toString();
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`herald serve did not start in 20 s:\n${output}`)),
        20_000,
      );
      const check = () => {
        const match = /listening on [^\s]+:(\d+)/.exec(output);
        if (match === null) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(Number(match[1]));
      };
      child.stdout!.on('data', check);
      void this.#exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`herald serve exited with ${code} before listening:\n${output}`));
      });
    });
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await withDeadline(this.#exited, 15_000, 'herald serve to die');
  }

  /** kill -9, then start again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.kill();
    // The port is free once the process is gone; retry briefly in case the OS is slow to release it.
    const deadline = performance.now() + 10_000;
    for (;;) {
      try {
        await this.start();
        return;
      } catch (error) {
        if (performance.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** SIGTERM and wait for the exit. */
  async stop(): Promise<void> {
    this.#child?.kill('SIGTERM');
    await withDeadline(this.#exited, 15_000, 'herald serve to stop');
  }
}

/** Starts a `herald serve` with `partitions` per new topic on a fresh data dir. */
export async function startServe(partitions = 4): Promise<Serve> {
  const serve = new Serve(freshDirectory('herald-kafka-serve-'), partitions);
  await serve.start();
  return serve;
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

/** Resolves once `condition()` holds; fails naming `what()` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: () => string,
  timeoutMs = 20_000,
  pollMs = 20,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
