/**
 * Test helpers: `herald serve` as a child process on a free port and a temp data dir, which can be
 * killed (-9) and started again on the same port and data. The generic helpers (child processes,
 * deadlines, waits, temporary directories) come from `@herald/test-support`.
 */
import { type ServeProcess, startServe as startServeProcess, temporaryDirectory } from '@herald/test-support';

/** A `herald serve` that survives restarts under one address. */
export class Serve {
  readonly dir: string;
  readonly partitions: number;
  port = 0;
  #process: ServeProcess | undefined;
  #earlierOutput = '';

  constructor(dir: string, partitions: number) {
    this.dir = dir;
    this.partitions = partitions;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The server's pid (for tests that report it). */
  get pid(): number | undefined {
    return this.#process?.child.pid;
  }

  output(): string {
    return this.#earlierOutput + (this.#process?.output() ?? '');
  }

  /** Starts the server (on `port` when it ran before, else on a free one) and waits until it listens. */
  async start(): Promise<void> {
    this.#earlierOutput = this.output();
    this.#process = undefined;
    this.#process = await startServeProcess({ dir: this.dir, port: this.port, partitions: this.partitions });
    this.port = this.#process.port;
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    await this.#process?.kill();
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
    await this.#process?.stop();
  }
}

/** Starts a `herald serve` with `partitions` per new topic on a fresh data dir. */
export async function startServe(partitions = 4): Promise<Serve> {
  const serve = new Serve(temporaryDirectory('herald-kafka-serve-'), partitions);
  await serve.start();
  return serve;
}
